import { startOdsSimulator } from '../../simulators/ods/ods-simulator.js';
import type { OdsField, RecordValues } from '../../simulators/ods/portal-data.js';
import { PUSH_BASE } from '../../simulators/ods/push-receiver.js';
import type { Store } from '../../store/store.js';
import { PUSH_KEY_VARIABLE } from './demo-part.js';

export interface DemoPushTargetOptions {
  /** The realtime dataset's id; also the target's name (its default). */
  readonly dataset: string;
  readonly fields: readonly OdsField[];
  /** Its "Unique ID" fields: the record key. */
  readonly uniqueId: readonly string[];
  readonly pushKey: string;
}

/** What the dataset was sent: records pushed and deleted, in how many requests. */
export interface Received {
  readonly pushed: number;
  readonly deleted: number;
  readonly requests: number;
}

/**
 * An Opendatasoft portal with one realtime dataset that a demo job pushes its records to (README,
 * "Push to Opendatasoft"). Its own portal, not the ODS part's: pushes there would change the
 * catalog that part mirrors and compares.
 */
export interface DemoPushTarget {
  readonly describe: string;
  /** The job's `push` entry, its key written as the `${DSS_DEMO_PUSHKEY}` placeholder. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The records the dataset holds now. */
  records(): RecordValues[];
  received(): Received;
  /** How the dataset differs from the records the mirror holds (`expected`); empty when equal. */
  compare(expected: readonly Record<string, unknown>[]): string[];
  /** One line: what was pushed and deleted, what the dataset holds, and what waits in the outbox. */
  summary(store: Store): Promise<string>;
  close(): Promise<void>;
}

export async function startDemoPushTarget(options: DemoPushTargetOptions): Promise<DemoPushTarget> {
  const { dataset, pushKey } = options;
  const sim = await startOdsSimulator({ realtime: [{ dataset, resource: 'realtime', pushKey, fields: options.fields, uniqueIds: options.uniqueId }] });
  const receiver = sim.push;
  const received = (): Received => {
    const applied = receiver.log.filter((request) => request.applied && request.dataset === dataset);
    const sum = (operation: string) => applied.filter((request) => request.operation === operation).reduce((total, request) => total + request.records, 0);
    return { pushed: sum('push'), deleted: sum('delete') + sum('delete-id'), requests: applied.length };
  };
  const path = `${PUSH_BASE}/${dataset}/realtime/push/`;
  return {
    describe: `Push: an Opendatasoft realtime dataset at ${sim.url}${path} (its push key is a secret: never shown)`,
    config: { url: `${sim.url}${path}?pushkey=\${${PUSH_KEY_VARIABLE}}`, uniqueId: [...options.uniqueId] },
    records: () => receiver.records(dataset),
    received,
    compare(expected) {
      const held = receiver.records(dataset).map(canonical).sort();
      const wanted = expected.map(canonical).sort();
      if (held.length === wanted.length && held.every((record, index) => record === wanted[index])) return [];
      const holds = new Set(held);
      const missing = wanted.filter((record) => !holds.has(record)).length;
      return [`Push: the ODS dataset ${dataset} holds ${held.length} records, the mirror ${wanted.length} (${missing} not delivered as they are)`];
    },
    async summary(store) {
      const { pushed, deleted, requests } = received();
      const outbox = (await store.outboxSummaries()).filter((summary) => summary.target.endsWith(`>${dataset}`)).reduce((total, summary) => total + summary.depth, 0);
      return `${dataset} (ODS realtime dataset): ${receiver.count(dataset)} records; pushed ${pushed} records, deleted ${deleted} (${requests} requests), outbox ${outbox}`;
    },
    close: () => sim.close(),
  };
}

/** A record as JSON with its fields in name order: the same record whatever order its fields came in. */
function canonical(record: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1))));
}
