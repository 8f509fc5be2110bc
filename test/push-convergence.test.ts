import fc from 'fast-check';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamSource } from '../src/core/source.js';
import { createHttpClient, type UndiciHttpClient } from '../src/http/undici-client.js';
import { pushTargetSchema } from '../src/push/push-config.js';
import { drainTarget } from '../src/push/pusher.js';
import { pushedStream, type PushedStream } from '../src/push/pushed-stream.js';
import { runStream } from '../src/runner/run-stream.js';
import { DataflowStructure } from '../src/simulators/nsi/dataflow-structure.js';
import { startNsiSimulator, type NsiSimulator } from '../src/simulators/nsi/nsi-simulator.js';
import { startOdsSimulator, type OdsSimulator } from '../src/simulators/ods/ods-simulator.js';
import type { OdsFault } from '../src/simulators/ods/faults.js';
import { startRpdePublisher } from '../src/simulators/rpde/publisher.js';
import { SdmxSource } from '../src/sources/sdmx/sdmx-source.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/store.js';
import { scratchDir } from './helpers/scratch-dir.js';
import { propertyRuns } from './helpers/property-runs.js';
import { applyMutation, mutationArb, type Mutation } from './simulators/nsi/mutation-arbitraries.js';
import { DF_TEST_DELETE } from './simulators/nsi/test-dataflows.js';
import { feedSource, TestClock } from './sources/rpde/harness.js';

/**
 * The push convergence property (README, "Push to Opendatasoft"): whatever the source does and
 * however the Push API fails on the way, after each drain that succeeds every realtime dataset
 * holds exactly the records the mirror holds, key for key and value for value, no record twice;
 * for a dataset with Unique ID fields (upserts by key) and one without (records identified by
 * their values). A drain that fails (two faults in a row) is left failed until the next sync, so
 * the source may change meanwhile; the last sync retries until every drain succeeds.
 */

const log = pino({ level: 'silent' });
const RUNS = propertyRuns(25, process.env.FC_RUNS);
const DOMAINS = { DIM_1: ['A', 'B'], DIM_2: ['A', 'B'], TIME_PERIOD: ['2020', '2021'] };

let clock = Date.parse('2024-06-03T09:00:00Z');
let nsi: NsiSimulator;
let ods: OdsSimulator;
let http: UndiciHttpClient;
let runs = 0;

beforeAll(async () => {
  nsi = await startNsiSimulator({ clock: () => new Date(clock) });
  ods = await startOdsSimulator();
  http = createHttpClient({ maxRetries: 1, retryBaseDelayMs: 5, maxRetryDelayMs: 20 });
});
afterAll(async () => {
  await http.close();
  await nsi.close();
  await ods.close();
});

const pushFault: fc.Arbitrary<OdsFault> = fc.constantFrom<OdsFault>(
  { type: 'status', status: 500 },
  { type: 'status', status: 503 },
  { type: 'drop' },
  { type: 'drop', afterApplying: true },
  { type: 'quota' },
);

/** Two realtime datasets for this run, with and without Unique ID fields, and the stream's push to both. */
function targets(source: StreamSource, key: readonly string[]): { push: PushedStream; datasets: string[] } {
  runs += 1;
  const datasets = [`keyed_${runs}`, `plain_${runs}`];
  ods.push.addResource({ dataset: datasets[0] as string, resource: 'realtime', pushKey: `key-${runs}-a`, uniqueIds: [...key] });
  ods.push.addResource({ dataset: datasets[1] as string, resource: 'realtime', pushKey: `key-${runs}-b` });
  const configs = [
    pushTargetSchema.parse({ url: ods.pushUrl(datasets[0] as string), uniqueId: [...key] }),
    pushTargetSchema.parse({ url: ods.pushUrl(datasets[1] as string) }),
  ];
  return { push: pushedStream(source, configs, () => 60_000) as PushedStream, datasets };
}

/**
 * Drains every target; the datasets whose drain succeeded. A failed drain is tried again only when
 * `last` (each fault spoils one answer).
 */
async function drainAll(store: Store, push: PushedStream, datasets: readonly string[], last: boolean): Promise<string[]> {
  const delivered: string[] = [];
  for (const [index, target] of push.targets.entries()) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await drainTarget(target, { store, http, log, signal: new AbortController().signal });
        delivered.push(datasets[index] as string);
        break;
      } catch (error) {
        if (!last) break;
        if (attempt >= 5) throw error;
      }
    }
  }
  return delivered;
}

function sorted(rows: readonly unknown[]): string[] {
  return rows.map((row) => JSON.stringify(row)).sort();
}

async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const dir = scratchDir('dss-push-convergence-');
  const store = new SqliteStore({ path: join(dir, 'sync.db') });
  try {
    await store.open();
    await fn(store);
  } finally {
    await store.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

type SdmxStep = { readonly step: 'mutate'; readonly m: Mutation } | { readonly step: 'sync' } | { readonly step: 'fault'; readonly fault: OdsFault };

function sdmxStep(structure: DataflowStructure): fc.Arbitrary<SdmxStep> {
  return fc.oneof(
    { weight: 8, arbitrary: mutationArb(structure, DOMAINS).map((m) => ({ step: 'mutate' as const, m })) },
    { weight: 3, arbitrary: fc.constant({ step: 'sync' as const }) },
    { weight: 2, arbitrary: pushFault.map((fault) => ({ step: 'fault' as const, fault })) },
  );
}

describe('push convergence (source -> mirror -> outbox -> Push API)', () => {
  it('SDMX: after each drain both datasets hold exactly the observations of the view, through wildcard deletes and series attribute changes', async () => {
    const structure = new DataflowStructure(DF_TEST_DELETE);
    await fc.assert(
      fc.asyncProperty(fc.array(sdmxStep(structure), { maxLength: 20, size: 'medium' }), async (steps) =>
        withStore(async (store) => {
          const flow = nsi.dataSpace.defineDataflow({ ...DF_TEST_DELETE, id: `DF_PUSH_${runs + 1}` });
          const prefix = `push${runs + 1}`;
          const source = new SdmxSource({
            id: `sdmx:push:${flow.structure.ref}:data`,
            jobId: 'push',
            mode: 'data',
            endpoint: nsi.url,
            api: 'v1',
            dataflow: { agency: flow.structure.agency, id: flow.structure.id, version: flow.structure.version },
            prefix,
            overlapMs: 0,
            structureFormat: 'auto',
            batchSize: 7,
            now: () => new Date(clock),
          });
          const { push, datasets } = targets(source, ['DIM_1', 'DIM_2', 'TIME_PERIOD']);
          for (const [index, step] of [...steps, { step: 'sync' } as const].entries()) {
            if (step.step === 'mutate') applyMutation(flow, step.m);
            else if (step.step === 'fault') ods.injectFault(step.fault);
            else {
              await runStream({ store, source, http, log, signal: new AbortController().signal, outbox: push.outbox });
              clock += 1_000;
              const delivered = await drainAll(store, push, datasets, index === steps.length);
              const view = sorted(await store.readTable(prefix));
              for (const dataset of delivered) {
                const received = ods.push.records(dataset);
                expect(sorted(received), dataset).toEqual(view);
              }
              if (delivered.length === datasets.length) {
                expect((await store.outboxSummaries()).filter((summary) => push.targets.some((target) => target.delivery.id === summary.target))).toEqual([]);
              }
            }
          }
        }),
      ),
      { numRuns: RUNS },
    );
  }, Math.max(300_000, RUNS * 4_000));

  it('RPDE: after each drain both datasets hold exactly the live items (id, kind, modified, data as JSON text)', async () => {
    type RpdeStep = { readonly step: 'create' | 'update' | 'delete'; readonly picks: readonly number[] } | { readonly step: 'sync' } | { readonly step: 'fault'; readonly fault: OdsFault };
    const stepArb: fc.Arbitrary<RpdeStep> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ step: fc.constantFrom('create' as const, 'update' as const, 'delete' as const), picks: fc.array(fc.nat({ max: 100 }), { minLength: 1, maxLength: 4 }) }) },
      { weight: 3, arbitrary: fc.constant({ step: 'sync' as const }) },
      { weight: 1, arbitrary: pushFault.map((fault) => ({ step: 'fault' as const, fault })) },
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 12 }), fc.array(stepArb, { maxLength: 16 }), async (pageSize, items, steps) => {
        const publisher = await startRpdePublisher({ pageSize, items });
        try {
          await withStore(async (store) => {
            const clockRpde = new TestClock();
            const source = feedSource(publisher.url, clockRpde, { table: `feed_${runs + 1}_items`, id: `rpde:push:${runs + 1}` });
            const { push, datasets } = targets(source, ['id']);
            const ids = [...publisher.feed.liveItems().keys()];
            for (const [index, step] of [...steps, { step: 'sync' } as const].entries()) {
              const chosen = (picks: readonly number[]) => [...new Set(picks.map((pick) => ids[pick % Math.max(1, ids.length)]).filter((id): id is string => id !== undefined))];
              if (step.step === 'create') {
                for (const _ of step.picks) {
                  const id = publisher.feed.newId();
                  ids.push(id);
                  publisher.feed.upsert(id);
                }
              } else if (step.step === 'update') {
                const targetIds = chosen(step.picks);
                if (targetIds.length > 0) publisher.feed.upsertMany(targetIds.map((id) => ({ id })));
              } else if (step.step === 'delete') publisher.feed.deleteMany(chosen(step.picks));
              else if (step.step === 'fault') ods.injectFault(step.fault);
              else {
                clockRpde.advance(60_000);
                await runStream({ store, source, http, log, signal: new AbortController().signal, requested: true, outbox: push.outbox });
                const delivered = await drainAll(store, push, datasets, index === steps.length);
                const live = (await store.readTable(source.table))
                  .filter((row) => row['state'] === 'updated')
                  .map((row) => ({ id: row['id'], kind: row['kind'], modified: row['modified_raw'], data: row['data'] }));
                // The mirror itself equals the feed (the RPDE convergence property checks it in depth).
                expect(live.map((row) => row.id).sort()).toEqual([...publisher.feed.liveItems().keys()].sort());
                for (const dataset of delivered) expect(sorted(ods.push.records(dataset)), dataset).toEqual(sorted(live));
              }
            }
          });
        } finally {
          await publisher.close();
        }
      }),
      { numRuns: RUNS },
    );
  }, Math.max(300_000, RUNS * 4_000));
});
