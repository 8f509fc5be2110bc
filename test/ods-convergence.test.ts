import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryLaterError } from '../src/core/source.js';
import { createHttpClient, type UndiciHttpClient } from '../src/http/undici-client.js';
import { runStream, StreamRunError } from '../src/runner/run-stream.js';
import { startOdsSimulator, type OdsSimulator } from '../src/simulators/ods/ods-simulator.js';
import type { RecordValues } from '../src/simulators/ods/portal-data.js';
import { OdsCatalogSource } from '../src/sources/ods/catalog-source.js';
import { OdsRecordsSource } from '../src/sources/ods/records-source.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from './helpers/silent-log.js';
import { propertyRuns } from './helpers/property-runs.js';
import { mirrorRows, portalRows } from '../src/simulators/ods/mirror-rows.js';

const RUNS = propertyRuns(50, process.env.FC_RUNS);
const DATASETS = ['alpha', 'beta'] as const;
type Name = (typeof DATASETS)[number];

/** What a test does to the portal, or a sync of every stream. */
type Step =
  | { readonly step: 'insert'; readonly dataset: Name; readonly values: readonly RecordValues[] }
  | { readonly step: 'edit'; readonly dataset: Name; readonly index: number; readonly name: string }
  | { readonly step: 'delete'; readonly dataset: Name; readonly index: number }
  | { readonly step: 'rename'; readonly dataset: Name }
  | { readonly step: 'remove'; readonly dataset: Name }
  | { readonly step: 'reprocessDuringExport'; readonly dataset: Name; readonly values: readonly RecordValues[] }
  | { readonly step: 'metadata'; readonly dataset: Name; readonly title: string }
  | { readonly step: 'sync' };

const valuesArb: fc.Arbitrary<RecordValues> = fc.record({
  k: fc.integer({ min: 0, max: 30 }),
  name: fc.option(fc.string({ maxLength: 6 }), { nil: null }),
  // -0 leaves the simulated portal as 0 (JavaScript's JSON has no negative zero), so it is drawn as 0.
  score: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((value) => (Object.is(value, -0) ? 0 : value)), { nil: null }),
});

const datasetArb = fc.constantFrom(...DATASETS);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ step: fc.constant('insert' as const), dataset: datasetArb, values: fc.array(valuesArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ step: fc.constant('edit' as const), dataset: datasetArb, index: fc.nat(40), name: fc.string({ maxLength: 6 }) }) },
  { weight: 3, arbitrary: fc.record({ step: fc.constant('delete' as const), dataset: datasetArb, index: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ step: fc.constant('rename' as const), dataset: datasetArb }) },
  { weight: 1, arbitrary: fc.record({ step: fc.constant('remove' as const), dataset: datasetArb }) },
  { weight: 2, arbitrary: fc.record({ step: fc.constant('reprocessDuringExport' as const), dataset: datasetArb, values: fc.array(valuesArb, { minLength: 1, maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ step: fc.constant('metadata' as const), dataset: datasetArb, title: fc.string({ maxLength: 8 }) }) },
  { weight: 4, arbitrary: fc.constant({ step: 'sync' as const }) },
);

describe('ODS convergence property (simulated portal -> ods-catalog and ods-records -> runStream -> SQLite)', () => {
  let http: UndiciHttpClient;
  const { log } = memoryLogger('silent');

  beforeAll(() => {
    http = createHttpClient({ maxRetries: 0 });
  });

  afterAll(() => http.close());

  it('after every sync the catalog mirror and the records mirrors equal the portal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(valuesArb, { maxLength: 8 }), fc.array(valuesArb, { maxLength: 8 }), fc.array(stepArb, { maxLength: 16 }), async (alpha, beta, steps) => {
        let clock = Date.parse('2026-08-17T02:40:33Z');
        const sim = await startOdsSimulator({ now: () => new Date(clock) });
        const store = new SqliteStore({ path: ':memory:' });
        try {
          await store.open();
          await oneRun(sim, store, () => (clock += 1_000), { alpha, beta }, steps);
        } finally {
          await store.close();
          await sim.close();
        }
      }),
      { numRuns: RUNS },
    );
  }, Math.max(120_000, RUNS * 1_000));

  async function oneRun(sim: OdsSimulator, store: SqliteStore, tick: () => void, initial: Record<Name, readonly RecordValues[]>, steps: readonly Step[]): Promise<void> {
    const fields = [
      { name: 'k', type: 'int' as const },
      { name: 'name', type: 'text' as const },
      { name: 'score', type: 'double' as const },
    ];
    const ids: Record<Name, string | undefined> = { alpha: 'alpha', beta: 'beta' };
    for (const name of DATASETS) sim.portal.addDataset({ id: name, fields, records: initial[name], metas: { default: { title: name } } });
    const catalog = new OdsCatalogSource({ id: 'ods:conv:catalog', jobId: 'conv', portal: sim.url, apiKey: undefined, prefix: 'conv', where: undefined, refine: [], includeInspire: false, includeEmpty: true, goneAfter: 1 });
    const records = new Map(
      DATASETS.map((name) => [
        name,
        new OdsRecordsSource({ id: `ods:conv:${name}`, jobId: 'conv', portal: sim.url, apiKey: undefined, datasetId: name, table: `rec_${name}`, uniqueKey: undefined, mode: 'snapshot', overlapMs: 0, reconcileEveryMs: 0 }),
      ]),
    );
    const gone = new Set<Name>();
    const signal = new AbortController().signal;

    for (const step of [...steps, { step: 'sync' } as const]) {
      tick();
      if (step.step === 'sync') {
        // Records first: a reprocessing armed for an export changes the portal during it, and the
        // catalog listed after it then sees what the portal ends with.
        for (const [name, source] of records) {
          if (gone.has(name)) continue;
          let outcome = await runStream({ store, source, http, log, signal }).catch((error: unknown) => error);
          // Reprocessed during every export of a run: the run gives up and waits; the next one gets through.
          while (outcome instanceof StreamRunError && outcome.cause instanceof RetryLaterError) {
            outcome = await runStream({ store, source, http, log, signal }).catch((error: unknown) => error);
          }
          if (outcome instanceof StreamRunError) {
            // Only a dataset the portal no longer has under this id may fail: its stream is gone.
            expect(outcome.status, outcome.message).toBe('gone');
            expect(sim.portal.find(name)).toBeUndefined();
            gone.add(name);
          }
        }
        await runStream({ store, source: catalog, http, log, signal });
        await expectConverged(sim, store, gone);
        continue;
      }
      const id = ids[step.dataset];
      const dataset = id === undefined ? undefined : sim.portal.find(id);
      if (dataset === undefined) continue;
      const recordIds = [...dataset.records.keys()];
      switch (step.step) {
        case 'insert':
          sim.portal.changeRecords(dataset.id, { insert: step.values });
          break;
        case 'edit': {
          const target = recordIds[step.index % Math.max(1, recordIds.length)];
          if (target !== undefined) sim.portal.changeRecords(dataset.id, { update: [{ id: target, values: { ...dataset.records.get(target)?.values, name: step.name } }] });
          break;
        }
        case 'delete': {
          const target = recordIds[step.index % Math.max(1, recordIds.length)];
          if (target !== undefined) sim.portal.changeRecords(dataset.id, { delete: [target] });
          break;
        }
        case 'rename':
          ids[step.dataset] = `${dataset.id}-renamed`;
          sim.portal.renameDataset(dataset.id, `${dataset.id}-renamed`);
          break;
        case 'remove':
          ids[step.dataset] = undefined;
          sim.portal.removeDataset(dataset.id);
          break;
        case 'reprocessDuringExport':
          sim.duringNextExport(
            () => {
              tick();
              if (sim.portal.find(dataset.id) !== undefined) sim.portal.changeRecords(dataset.id, { insert: step.values });
            },
            { dataset: dataset.id, afterRecords: Math.floor(dataset.records.size / 2) },
          );
          break;
        case 'metadata':
          sim.portal.setMetas(dataset.id, { title: step.title });
          break;
      }
    }
  }

  /** The catalog's present rows are the portal's datasets; each live records stream's table is its dataset's records. */
  async function expectConverged(sim: OdsSimulator, store: SqliteStore, gone: ReadonlySet<Name>): Promise<void> {
    const present = (await store.readTable('conv_datasets'))
      .filter((row) => row['state'] === 'present')
      .map((row) => [row['dataset_uid'], row['dataset_id'], row['title'], row['records_count']]);
    const portal = sim.portal
      .datasets()
      .sort((a, b) => (a.uid < b.uid ? -1 : 1))
      .map((dataset) => [dataset.uid, dataset.id, dataset.metas['default']?.['title'] ?? dataset.id, dataset.dataProcessedMs === undefined ? null : dataset.records.size]);
    expect(present).toEqual(portal);
    for (const name of DATASETS) {
      if (gone.has(name)) continue;
      expect(await mirrorRows(store, `rec_${name}`)).toEqual(portalRows(sim.portal.get(name)));
    }
  }
});
