import fc from 'fast-check';
import { Settings } from 'luxon';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/core/json.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { runStream, StreamRunError } from '../../src/runner/run-stream.js';
import type { StructureFormat as SimulatorStructureFormat } from '../../src/simulators/nsi/content-negotiation.js';
import { DataflowStructure } from '../../src/simulators/nsi/dataflow-structure.js';
import type { NsiFault } from '../../src/simulators/nsi/faults.js';
import type { HostedDataflow } from '../../src/simulators/nsi/hosted-dataflow.js';
import { startNsiSimulator, type NsiSettings, type NsiSimulator } from '../../src/simulators/nsi/nsi-simulator.js';
import type { NsiSnapshot } from '../../src/simulators/nsi/snapshot.js';
import { mirrorSnapshot } from '../../src/cli/demo/sdmx-part.js';
import { SdmxSource } from '../../src/sources/sdmx/sdmx-source.js';
import type { Store } from '../../src/store/store.js';
import { applyMutation, mutationArb, type Mutation } from '../simulators/nsi/mutation-arbitraries.js';
import { DF_TEST_DELETE } from '../simulators/nsi/test-dataflows.js';
import { propertyRuns } from './property-runs.js';

/**
 * The SDMX convergence property (docs/architecture.md, "How we know it works"): whatever the source
 * does (inserts, revisions, observation and wildcard deletes, attribute changes and deletes at every
 * level, referential metadata), after every sync the mirror holds exactly the simulator's content,
 * cell for cell, in every table. Runs also vary the API flavour, structure formats, server
 * conventions, the client's time zone (so `+` offsets must be encoded), the safety overlap, and
 * sometimes break a sync on purpose: a failed sync must leave the mirror and the cursor as they were.
 * On SQLite (test/sdmx-convergence.test.ts) and on the server engines
 * (test/sdmx-server-convergence.test.ts): two files, so that they run at the same time.
 */

const log = pino({ level: 'silent' });
/** Runs of the property on SQLite, and on each server engine (whose round trips cost more). */
export const RUNS = propertyRuns(100, process.env.FC_RUNS);
export const SERVER_RUNS = propertyRuns(25, process.env.FC_SERVER_RUNS);
const DOMAINS = { DIM_1: ['A', 'B'], DIM_2: ['A', 'B'], TIME_PERIOD: ['2020', '2021'] };

let clock = Date.parse('2024-06-03T09:00:00Z');
let nsi: NsiSimulator;
let store: Store;
let http: UndiciHttpClient;
let runs = 0;

interface RunConfig {
  readonly api: 'v1' | 'v2';
  readonly clientFormat: 'json' | 'xml' | 'auto';
  readonly offered: SimulatorStructureFormat[];
  readonly overlapMs: number;
  readonly zone: string;
  readonly settings: Partial<NsiSettings>;
}

type Step =
  | { readonly step: 'mutate'; readonly m: Mutation }
  | { readonly step: 'tick'; readonly ms: number }
  | { readonly step: 'sync' }
  | { readonly step: 'brokenSync'; readonly fault: NsiFault };

const formatPairs: { clientFormat: RunConfig['clientFormat']; offered: SimulatorStructureFormat[] }[] = [
  { clientFormat: 'auto', offered: ['json1', 'json2', 'xml21'] },
  { clientFormat: 'auto', offered: ['json1', 'xml21'] },
  { clientFormat: 'auto', offered: ['xml21'] },
  { clientFormat: 'json', offered: ['json2'] },
  { clientFormat: 'json', offered: ['json1'] },
  { clientFormat: 'xml', offered: ['xml21'] },
];

const configArb: fc.Arbitrary<RunConfig> = fc.record({
  api: fc.constantFrom('v1' as const, 'v2' as const),
  formats: fc.constantFrom(...formatPairs),
  overlapMs: fc.constantFrom(0, 2_000, 5 * 60_000),
  zone: fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata'),
  settings: fc.record({
    emptyStatus: fc.constantFrom(404 as const, 204 as const),
    attributesOnObservationRows: fc.boolean(),
    deleteMarker: fc.constantFrom('*' as const, '-' as const),
    fullLoadAction: fc.constantFrom('I' as const, 'omit' as const),
    structureLabel: fc.constantFrom('dataflow' as const, 'DATAFLOW' as const),
    lineEnding: fc.constantFrom('\n' as const, '\r\n' as const),
    json2TimeDimension: fc.constantFrom('timeDimension' as const, 'timeDimensions' as const),
  }),
}).map(({ formats, ...rest }) => ({ ...rest, ...formats }));

const faultArb: fc.Arbitrary<NsiFault> = fc.oneof(
  fc.constant<NsiFault>({ type: 'cutBody', afterBytes: 40 }),
  fc.constant<NsiFault>({ type: 'errorAfterRows', rows: 0 }),
  fc.constant<NsiFault>({ type: 'badRow', afterRows: 0, kind: 'unknownAction' }),
  fc.constant<NsiFault>({ type: 'badRow', afterRows: 0, kind: 'tooManyCells' }),
  fc.constant<NsiFault>({ type: 'html' }),
  fc.constant<NsiFault>({ type: 'status', status: 500 }),
);

function stepArb(structure: DataflowStructure): fc.Arbitrary<Step> {
  return fc.oneof(
    { weight: 8, arbitrary: mutationArb(structure, DOMAINS).map((m) => ({ step: 'mutate' as const, m })) },
    { weight: 2, arbitrary: fc.oneof(fc.integer({ min: 0, max: 4_000 }), fc.constant(10 * 60_000)).map((ms) => ({ step: 'tick' as const, ms })) },
    { weight: 3, arbitrary: fc.constant({ step: 'sync' as const }) },
    { weight: 1, arbitrary: faultArb.map((fault) => ({ step: 'brokenSync' as const, fault })) },
  );
}

/** The mirror's tables in the simulator's canonical form. */
function mirrored(prefix: string, s: DataflowStructure): Promise<NsiSnapshot> {
  return mirrorSnapshot(store, prefix, s);
}

function withoutMetadata(snapshot: NsiSnapshot): Omit<NsiSnapshot, 'metadata'> {
  const { metadata: _metadata, ...data } = snapshot;
  return data;
}

/** An engine the property runs on: the store a run writes to, and what to do after the run. */
export interface ConvergenceEngine {
  readonly name: string;
  /** Runs of the property: fewer on the server engines, whose round trips cost more. */
  readonly runs: number;
  open(): Promise<{ store: Store; dispose: () => Promise<void> }>;
}

/** The property on each engine, against an NSI simulator of the calling file's own. */
export function describeSdmxConvergence(engines: readonly ConvergenceEngine[]): void {
  const defaultZone = Settings.defaultZone;
  beforeAll(async () => {
    nsi = await startNsiSimulator({ clock: () => new Date(clock) });
    http = createHttpClient({ maxRetries: 0 });
  });
  afterAll(async () => {
    Settings.defaultZone = defaultZone;
    await http.close();
    await nsi.close();
  });

  for (const engine of engines) {
    describe(`SDMX convergence property (simulator -> SdmxSource -> runStream -> ${engine.name})`, () => {
      it('after every sync the mirror equals the source, cell for cell, in every table', async () => {
        await fc.assert(
          fc.asyncProperty(
            configArb,
            fc.array(stepArb(new DataflowStructure(DF_TEST_DELETE)), { maxLength: 24, size: 'medium' }),
            async (config, steps) => {
              // SQLite gets a file per run: a schema that grows by a few tables per run slows its every statement down.
              const opened = await engine.open();
              store = opened.store;
              try {
                await oneRun(config, steps);
              } finally {
                await opened.dispose();
              }
            },
          ),
          { numRuns: engine.runs },
        );
        // About 20 s alone on two cores; with the suite's other files and a busy machine, six times that.
      }, Math.max(300_000, engine.runs * 3_000));
    });
  }
}

async function oneRun(config: RunConfig, steps: readonly Step[]): Promise<void> {
  const flow = defineRunFlow();
  const prefix = `conv${runs}`;
  Object.assign(nsi.settings, config.settings, { structureFormats: config.offered });
  Settings.defaultZone = config.zone;
  nsi.faults.clear();
  const source = (mode: 'data' | 'metadata'): SdmxSource =>
    new SdmxSource({
      id: `sdmx:conv:${flow.structure.ref}:${mode}`,
      jobId: 'conv',
      mode,
      endpoint: nsi.url,
      api: config.api,
      dataflow: { agency: flow.structure.agency, id: flow.structure.id, version: flow.structure.version },
      prefix,
      overlapMs: config.overlapMs,
      structureFormat: config.clientFormat,
      batchSize: 7,
      now: () => new Date(clock),
    });
  const data = source('data');
  const metadata = source('metadata');
  const signal = new AbortController().signal;
  let synced: NsiSnapshot | undefined;

  for (const step of [...steps, { step: 'sync' } as const]) {
    if (step.step === 'mutate') applyMutation(flow, step.m);
    else if (step.step === 'tick') clock += step.ms;
    else if (step.step === 'sync') {
      await runStream({ store, source: data, http, log, signal });
      await runStream({ store, source: metadata, http, log, signal });
      synced = flow.snapshot();
      expect(await mirrored(prefix, flow.structure)).toEqual(synced);
      clock += 1;
    } else if (synced !== undefined) {
      const cursorBefore: JsonValue | undefined = (await store.readState(data.id))?.cursor;
      nsi.faults.inject(step.fault, { on: 'data' });
      const outcome = await runStream({ store, source: data, http, log, signal }).then(
        () => 'synced' as const,
        (error: unknown) => error,
      );
      nsi.faults.clear();
      if (outcome === 'synced') {
        // Only an answer without a body (nothing changed since the cursor) escapes a body fault;
        // a client that accepted the broken body (say, an unknown action) fails here.
        expect(step.fault.type === 'html' || step.fault.type === 'status').toBe(false);
        expect([404, 204]).toContain(nsi.requests.filter((request) => request.url.includes('/data/') && !request.url.includes('attributes=msd')).at(-1)?.status);
        synced = flow.snapshot();
        expect(withoutMetadata(await mirrored(prefix, flow.structure))).toEqual(withoutMetadata(synced));
      } else {
        expect(outcome).toBeInstanceOf(StreamRunError);
        const message = (outcome as StreamRunError).message;
        expect(message.startsWith(`stream ${data.id}: `), message).toBe(true);
        // Past the stream id (which holds the dataflow's id anyway): the dataflow, and where it broke.
        expect(message.slice(`stream ${data.id}: `.length)).toMatch(faultMessage(step.fault, flow.structure));
        expect(withoutMetadata(await mirrored(prefix, flow.structure))).toEqual(withoutMetadata(synced));
        expect((await store.readState(data.id))?.cursor).toEqual(cursorBefore);
      }
    }
  }
}

/** What a run broken by `fault` must say after the stream id: the dataflow, and the line or the transport failure. */
function faultMessage(fault: NsiFault, structure: DataflowStructure): RegExp {
  const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const label = escape(`dataflow ${structure.ref}`);
  const brokeOff = String.raw`the answer broke off (before its first row|after the row on line \d+) \(\d+ rows read\)`;
  switch (fault.type) {
    case 'cutBody':
      return new RegExp(String.raw`^${label}: ${brokeOff}: the body of \S+ is incomplete or corrupt`);
    case 'errorAfterRows':
      // The error text may arrive as a row before the dropped connection is noticed: refused for its
      // cell count (a row narrower than the header), or for its structure type when it is as wide.
      return new RegExp(
        String.raw`^${label}: (line \d+( \([^)]*\))?: (unknown structure type "Error: 500 Internal Server Error|the row has \d+ cells but the header has \d+)|${brokeOff})`,
      );
    case 'badRow':
      return fault.kind === 'unknownAction'
        ? new RegExp(String.raw`^${label}: line ${fault.afterRows + 2} \(${label}\): unknown action "X"`)
        : new RegExp(String.raw`^${label}: line ${fault.afterRows + 2} \(extra1\): the row has \d+ cells but the header has \d+`);
    case 'html':
      return new RegExp(String.raw`^${label}: expected SDMX-CSV from \S+, got text/html`);
    case 'status':
      return new RegExp(String.raw`^HTTP ${fault.status} from \S+[/,]${escape(structure.id)}[/,]`);
    case 'slowBody':
      throw new Error('a slow body does not break a run');
  }
}

/** Each run gets its own dataflow (and tables): runs never see each other's history. */
function defineRunFlow(): HostedDataflow {
  runs += 1;
  return nsi.dataSpace.defineDataflow({ ...DF_TEST_DELETE, id: `DF_CONV_${runs}` });
}
