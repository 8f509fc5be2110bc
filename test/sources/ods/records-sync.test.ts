import { beforeEach, describe, expect, it } from 'vitest';
import { ActionRequiredError, RetryLaterError } from '../../../src/core/source.js';
import { odsRecordsKind, odsRecordsOptions } from '../../../src/sources/ods/records-kind.js';
import { OdsRecordsSource, type RecordsSettings } from '../../../src/sources/ods/records-source.js';
import { treeRecord, treesDataset } from '../../simulators/ods/test-datasets.js';
import { mirrorRows, portalRows } from '../../../src/simulators/ods/mirror-rows.js';
import { portalProxy, portalTestbed } from './portal-testbed.js';

const TABLE = 'trees';

describe('ods-records: a dataset\'s records mirrored in snapshot mode', () => {
  const bed = portalTestbed(() => [treesDataset(300)]);

  function source(overrides: Partial<RecordsSettings> = {}): OdsRecordsSource {
    return new OdsRecordsSource({
      id: 'ods:trees:public-trees',
      jobId: 'trees',
      portal: bed.sim.url,
      apiKey: undefined,
      datasetId: 'public-trees',
      table: TABLE,
      uniqueKey: undefined,
      mode: 'snapshot',
      overlapMs: 300_000,
      reconcileEveryMs: 86_400_000,
      now: bed.now,
      ...overrides,
    });
  }

  const sync = (stream = source()) => bed.sync(stream);
  const syncFails = (stream = source()) => bed.syncFails(stream);
  const exports = () => bed.sim.requests.filter((request) => request.endpoint === 'export').length;
  const cursor = async () => (await bed.store.readState('ods:trees:public-trees'))?.cursor;
  const expectMirrored = async () => expect(await mirrorRows(bed.store, TABLE)).toEqual(portalRows(bed.sim.portal.get('public-trees')));

  it('a dataset of 25,000 records mirrors completely; an unchanged sync then makes no export request', async () => {
    bed.sim.portal.changeRecords('public-trees', { insert: Array.from({ length: 24_700 }, (_, index) => treeRecord(1000 + index)) });
    const first = await sync();
    expect(first.upserted).toBe(25_000);
    await expectMirrored();
    expect(exports()).toBe(1);
    const [exported] = bed.sim.requests.filter((request) => request.endpoint === 'export');
    expect(exported?.query.get('select')?.split(',').slice(0, 3)).toEqual(['recordid', '`asset_id`', '`common_name`']);
    const again = await sync();
    expect([again.commits, again.upserted, again.deleted]).toEqual([0, 0, 0]);
    expect(exports()).toBe(1);
    expect(bed.sim.requests.at(-1)?.endpoint).toBe('dataset');
  });

  it('applies edits, inserts and deletes as a difference: only the changed rows are written', async () => {
    await sync();
    const dataset = bed.sim.portal.get('public-trees');
    const ids = [...dataset.records.keys()];
    bed.time += 60_000;
    bed.sim.portal.changeRecords('public-trees', {
      update: ids.slice(0, 3).map((id, index) => ({ id, values: treeRecord(index, 1) })),
      delete: ids.slice(10, 15),
      insert: [treeRecord(5000), treeRecord(5001)],
    });
    const result = await sync();
    // Without Unique ID fields an edit is a new id: 3 edited + 2 new rows written, 3 + 5 removed;
    // the 292 others are left alone although the reprocessing stamped them all anew.
    expect([result.upserted, result.deleted]).toEqual([5, 8]);
    await expectMirrored();
    expect(exports()).toBe(2);
  });

  it('with a Unique ID key, an edit updates its row in place and unchanged rows are left alone', async () => {
    const definition = treesDataset(50, 'keyed');
    bed.sim.portal.addDataset({ ...definition, realtime: true, fields: definition.fields.map((field) => (field.name === 'asset_id' ? { ...field, annotations: { id: true } } : field)) });
    const keyed = source({ id: 'ods:trees:keyed', datasetId: 'keyed', table: 'keyed', uniqueKey: ['asset_id'] });
    bed.sim.portal.changeRecords('keyed', { insert: Array.from({ length: 50 }, (_, index) => treeRecord(index)) });
    await sync(keyed);
    bed.time += 60_000;
    bed.sim.portal.changeRecords('keyed', { insert: [treeRecord(3, 2), treeRecord(60)] });
    // A realtime dataset does not move data_processed, but records_count moved: the gate opens.
    const result = await sync(keyed);
    expect([result.upserted, result.deleted]).toEqual([2, 0]);
    const rows = await bed.store.readTable('keyed');
    expect(rows).toHaveLength(51);
    expect(rows.find((row) => row['asset_id'] === 3)?.['common_name']).toBe('tree 3 rev 2');
  });

  it('discards a snapshot taken while the dataset was reprocessed, and exports again', async () => {
    await sync();
    bed.time += 60_000;
    bed.sim.portal.changeRecords('public-trees', { insert: [treeRecord(7000)] });
    bed.sim.duringNextExport(() => {
      bed.time += 60_000;
      bed.sim.portal.changeRecords('public-trees', { insert: [treeRecord(7001)], delete: [[...bed.sim.portal.get('public-trees').records.keys()][0] as string] });
    });
    const result = await sync();
    expect(result.commits).toBe(1);
    expect(exports()).toBe(3);
    await expectMirrored();
  });

  it('reprocessed during three exports in a row: the run gives up, keeps mirror and cursor, and asks to come back in a minute', async () => {
    await sync();
    const before = { rows: await mirrorRows(bed.store, TABLE), cursor: await cursor() };
    bed.time += 60_000;
    bed.sim.portal.changeRecords('public-trees', { insert: [treeRecord(8000)] });
    for (let export_ = 0; export_ < 3; export_ += 1) {
      bed.sim.duringNextExport(() => {
        bed.time += 60_000;
        bed.sim.portal.changeRecords('public-trees', { insert: [treeRecord(8001 + export_)] });
      });
    }
    const failure = await syncFails();
    expect(failure.cause).toBeInstanceOf(RetryLaterError);
    expect(failure.retryAfterMs).toBe(60_000);
    expect(failure.message).toMatch(/dataset public-trees: reprocessed during each of 3 exports; the snapshots were discarded/);
    expect(exports()).toBe(4);
    expect(await mirrorRows(bed.store, TABLE)).toEqual(before.rows);
    expect(await cursor()).toEqual(before.cursor);
    await sync();
    await expectMirrored();
  });

  const faults = [
    ['a cut export', () => bed.sim.injectFault({ type: 'cutExport', afterRecords: 100 }, { dataset: 'public-trees' }), /dataset public-trees: the export broke after 100 records/],
    ['a 500', () => bed.sim.injectFault({ type: 'status', status: 500 }, { on: 'export' }), /dataset public-trees: HTTP 500 from/],
    ['an HTML 200', () => bed.sim.injectFault({ type: 'html' }, { on: 'export' }), /dataset public-trees: the portal answered "text\/html; charset=utf-8" with status 200/],
    ['a 429', () => bed.sim.injectFault({ type: 'quota' }, { on: 'export' }), /dataset public-trees: the portal's call quota is used up \(429: Too many requests/],
  ] as const;

  for (const [name, inject, message] of faults) {
    it(`${name} during an export leaves mirror and cursor as they were, with a message naming the dataset`, async () => {
      await sync();
      const before = { rows: await mirrorRows(bed.store, TABLE), cursor: await cursor() };
      bed.time += 60_000;
      bed.sim.portal.changeRecords('public-trees', { insert: [treeRecord(9000)] });
      inject();
      const failure = await syncFails();
      expect(failure.message).toMatch(message);
      expect(await mirrorRows(bed.store, TABLE)).toEqual(before.rows);
      expect(await cursor()).toEqual(before.cursor);
      expect((await bed.store.readState('ods:trees:public-trees'))?.lastError).toMatch(message);
      if (name === 'a 429') {
        expect(failure.cause).toBeInstanceOf(RetryLaterError);
        expect(failure.retryAfterMs).toBe(bed.sim.quota.resetAt().getTime() - bed.time);
      }
      await sync();
      await expectMirrored();
    });
  }

  it('an export that ends cleanly with fewer records than the dataset counts is refused as cut short; mirror and cursor kept', async () => {
    await sync();
    const before = { rows: await mirrorRows(bed.store, TABLE), cursor: await cursor() };
    bed.time += 60_000;
    bed.sim.portal.changeRecords('public-trees', { insert: [treeRecord(9100)] });
    // In front of the portal, a proxy that ends each JSON Lines export one line early, as a well-formed answer.
    const proxy = await portalProxy(bed.sim.url, (url, body) => (url.includes('/exports/jsonl') ? body.replace(/[^\n]*\n$/, '') : body));
    try {
      const failure = await syncFails(source({ portal: proxy.origin }));
      expect(failure.message).toMatch(/dataset public-trees: the export ended after 300 records, but the dataset has 301; was it cut short\?/);
      expect(await mirrorRows(bed.store, TABLE)).toEqual(before.rows);
      expect(await cursor()).toEqual(before.cursor);
    } finally {
      await proxy.close();
    }
    await sync();
    await expectMirrored();
  });

  it('stops on a schema change, saying what changed and asking for a reset; a reset rebuilds the table', async () => {
    await sync();
    const dataset = bed.sim.portal.get('public-trees');
    bed.sim.portal.setFields('public-trees', [...dataset.fields.filter((field) => field.name !== 'tags').map((field) => (field.name === 'height_m' ? { ...field, type: 'text' as const } : field)), { name: 'ward', type: 'int' }]);
    const failure = await syncFails();
    expect(failure.status).toBe('failed');
    expect(failure.cause).toBeInstanceOf(ActionRequiredError);
    expect(failure.message).toMatch(/dataset public-trees: the fields changed since table trees was built \(added ward \(int\); removed tags; retyped height_m double -> text\); reset the stream/);
    await bed.store.transaction(async (tx) => {
      const state = await tx.readState('ods:trees:public-trees');
      if (state) await tx.writeState({ ...state, cursor: null });
    });
    await sync();
    await expectMirrored();
    expect((await bed.store.readTable(TABLE))[0]).toHaveProperty('ward');
  });

  it('a dataset the portal no longer has (404 NotFoundResource) marks the stream gone', async () => {
    await sync();
    bed.sim.portal.renameDataset('public-trees', 'street-trees');
    const failure = await syncFails();
    expect(failure.status).toBe('gone');
    expect(failure.message).toMatch(/dataset public-trees: not found on the portal \(404 NotFoundResource: The requested dataset public-trees does not exist\.\)/);
    expect(await bed.store.readTable(TABLE)).toHaveLength(300);
  });
});

describe('ods-records: datasets found by a catalog where', () => {
  const bed = portalTestbed(() => [treesDataset(3), { ...treesDataset(2, 'street-lights'), metas: { default: { publisher: 'City of Example' } } }, { ...treesDataset(1, 'other'), metas: { default: { publisher: 'Elsewhere' } } }]);

  it('expands into one stream per dataset the catalog lists for the where, each into its default table, beside the listed ones', async () => {
    const options = odsRecordsOptions.parse({ portal: bed.sim.url, where: 'publisher = "City of Example"', datasets: [{ id: 'other', table: 'elsewhere' }] });
    const streams = await odsRecordsKind.expand({ id: 'city', kind: 'ods-records' }, options, { http: bed.http, log: bed.log, signal: new AbortController().signal });
    expect(streams.map((stream) => stream.id)).toEqual(['ods:city:other', 'ods:city:public-trees', 'ods:city:street-lights']);
    for (const stream of streams) await bed.sync(stream);
    expect(await bed.store.readTable('city_street_lights')).toHaveLength(2);
    expect(await bed.store.readTable('elsewhere')).toHaveLength(1);
    expect(odsRecordsKind.tables({ id: 'city', kind: 'ods-records' }, options)).toEqual([
      { name: 'elsewhere', path: ['datasets', 0], by: `dataset other of ${bed.sim.url}` },
      { name: 'city_', family: true, path: ['where'], by: `the datasets of ${bed.sim.url} matching the where` },
    ]);
  });
});

describe('ods-records: a realtime dataset mirrored incrementally', () => {
  const bed = portalTestbed(() => [{ ...treesDataset(0, 'live'), realtime: true }]);

  beforeEach(() => {
    bed.sim.portal.changeRecords('live', { insert: Array.from({ length: 40 }, (_, index) => treeRecord(index)) });
  });

  const live = () =>
    new OdsRecordsSource({
      id: 'ods:rt:live',
      jobId: 'rt',
      portal: bed.sim.url,
      apiKey: undefined,
      datasetId: 'live',
      table: 'live',
      uniqueKey: undefined,
      mode: 'incremental',
      overlapMs: 5_000,
      reconcileEveryMs: 3_600_000,
      now: bed.now,
    });
  const sync = () => bed.sync(live());
  const exportQueries = () => bed.sim.requests.filter((request) => request.endpoint === 'export').map((request) => request.query);

  it('reads records since the newest mirrored minus the overlap, and reconciles ids on its interval to remove deleted ones', async () => {
    bed.time += 30_000;
    bed.sim.portal.changeRecords('live', { insert: [treeRecord(50)] });
    await sync();
    expect(await mirrorRows(bed.store, 'live')).toEqual(portalRows(bed.sim.portal.get('live'), 'incremental'));
    bed.time += 60_000;
    bed.sim.portal.changeRecords('live', { insert: [treeRecord(100)] });
    const ids = [...bed.sim.portal.get('live').records.keys()];
    bed.sim.portal.changeRecords('live', { delete: ids.slice(0, 2) });
    const second = await sync();
    // The new record is written; the newest mirrored one is read again (within the overlap) but,
    // equal to the stored row, not written.
    expect(second.upserted).toBe(1);
    expect(exportQueries().at(-1)?.get('where')).toBe("record_timestamp >= date'2026-08-17T02:40:58.000Z'");
    // The deletions are seen only by the reconciliation, an hour after the last one.
    expect(await bed.store.readTable('live')).toHaveLength(42);
    bed.time += 3_600_000;
    const third = await sync();
    expect(third.deleted).toBe(2);
    expect(await mirrorRows(bed.store, 'live')).toEqual(portalRows(bed.sim.portal.get('live'), 'incremental'));
    expect(exportQueries().at(-1)?.get('select')).toBe('recordid');
  });

  it('mirrors a republished dataset (data_processed moved) in full', async () => {
    await sync();
    bed.time += 60_000;
    bed.sim.portal.reprocess('live');
    bed.sim.portal.changeRecords('live', { delete: [[...bed.sim.portal.get('live').records.keys()][0] as string] });
    const result = await sync();
    expect(result.deleted).toBe(1);
    expect(await mirrorRows(bed.store, 'live')).toEqual(portalRows(bed.sim.portal.get('live'), 'incremental'));
    expect(exportQueries().at(-1)?.get('where')).toBeNull();
  });
});
