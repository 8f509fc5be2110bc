import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOdsSimulator, type OdsSimulator } from '../../../src/simulators/ods/ods-simulator.js';
import { treeRecord, treesDataset } from './test-datasets.js';

const BASE = '/api/explore/v2.1/catalog/datasets';

describe('the simulated portal changes as tests ask, and spoils answers on demand', () => {
  let sim: OdsSimulator;
  let clock: number;

  beforeEach(async () => {
    clock = Date.parse('2026-08-17T02:40:33Z');
    sim = await startOdsSimulator({ now: () => new Date(clock), datasets: [treesDataset(20)] });
  });

  afterEach(() => sim.close());

  async function json(path: string, init?: RequestInit): Promise<Record<string, unknown>> {
    const response = await fetch(`${sim.url}${path}`, init);
    expect(response.status, path).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  }

  async function exportRows(id: string, query = 'select=*,recordid,record_timestamp'): Promise<Record<string, unknown>[]> {
    const response = await fetch(`${sim.url}${BASE}/${id}/exports/jsonl?${query}`);
    expect(response.status).toBe(200);
    return (await response.text()).trimEnd().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  const metas = async (id: string) => ((await json(`${BASE}/${id}`))['metas'] as { default: Record<string, unknown> }).default;

  it('a rename keeps the uid under a new dataset_id; the old id is then unknown', async () => {
    const before = await json(`${BASE}/public-trees`);
    sim.portal.renameDataset('public-trees', 'street-trees');
    const after = await json(`${BASE}/street-trees`);
    expect(after['dataset_uid']).toBe(before['dataset_uid']);
    expect((await fetch(`${sim.url}${BASE}/public-trees`)).status).toBe(404);
  });

  it('changing a file dataset reprocesses it: data_processed moves and every record takes the processing time', async () => {
    const first = await metas('public-trees');
    clock += 60_000;
    const [record] = await exportRows('public-trees');
    sim.portal.changeRecords('public-trees', { update: [{ id: record?.['recordid'] as string, values: treeRecord(0, 1) }], insert: [treeRecord(100)] });
    const second = await metas('public-trees');
    expect(Date.parse(second['data_processed'] as string)).toBe(Date.parse(first['data_processed'] as string) + 60_000);
    expect(second['records_count']).toBe(21);
    const rows = await exportRows('public-trees');
    expect(new Set(rows.map((row) => Date.parse(row['record_timestamp'] as string)))).toEqual(new Set([clock]));
    // Without Unique ID fields the id is a hash of the values: an edited record has a new id.
    expect(rows.map((row) => row['recordid'])).not.toContain(record?.['recordid']);
    sim.portal.reprocess('public-trees');
    expect(Date.parse((await metas('public-trees'))['data_processed'] as string)).toBe(clock + 1000);
  });

  it('records of a dataset with a Unique ID field keep their id across edits', async () => {
    const definition = treesDataset(3, 'keyed');
    sim.portal.addDataset({ ...definition, fields: definition.fields.map((field) => (field.name === 'asset_id' ? { ...field, annotations: { id: true } } : field)) });
    const [before] = await exportRows('keyed');
    sim.portal.changeRecords('keyed', { update: [{ id: before?.['recordid'] as string, values: treeRecord(0, 7) }] });
    const after = await exportRows('keyed');
    expect(after.find((row) => row['asset_id'] === 0)).toMatchObject({ recordid: before?.['recordid'], common_name: 'tree 0 rev 7' });
  });

  it('a realtime dataset keeps data_processed while records arrive with their own timestamps, filterable by record_timestamp', async () => {
    sim.portal.addDataset({ ...treesDataset(0, 'live'), realtime: true });
    const processed = (await metas('live'))['data_processed'];
    sim.portal.changeRecords('live', { insert: [treeRecord(1)] });
    clock += 5_000;
    sim.portal.changeRecords('live', { insert: [treeRecord(2)] });
    expect((await metas('live'))['data_processed']).toBe(processed);
    const since = new Date(clock).toISOString();
    const recent = await exportRows('live', `select=asset_id,record_timestamp&where=${encodeURIComponent(`record_timestamp >= date'${since}'`)}`);
    expect(recent).toEqual([{ asset_id: 2, record_timestamp: '2026-08-17T02:40:38.000000+00:00' }]);
  });

  it('a schema change drops the values of removed fields and reprocesses the dataset', async () => {
    const dataset = sim.portal.get('public-trees');
    sim.portal.setFields('public-trees', [...dataset.fields.filter((field) => field.name !== 'tags'), { name: 'ward', type: 'int' }]);
    const [row] = await exportRows('public-trees', 'select=*');
    expect(row).toHaveProperty('ward', null);
    expect(row).not.toHaveProperty('tags');
  });

  it('runs an action in the middle of an export, which still sends the content it started with', async () => {
    sim.duringNextExport(() => sim.portal.changeRecords('public-trees', { insert: [treeRecord(500)] }), { afterRecords: 5 });
    expect(await exportRows('public-trees')).toHaveLength(20);
    expect(await exportRows('public-trees')).toHaveLength(21);
  });

  it('faults: a cut export, a 500, an HTML 200 and a 429 hit the answers they are armed for, then stop', async () => {
    sim.injectFault({ type: 'cutExport', afterRecords: 3 }, { dataset: 'public-trees' });
    await expect(fetch(`${sim.url}${BASE}/public-trees/exports/jsonl`).then((response) => response.text())).rejects.toThrow();
    sim.injectFault({ type: 'status', status: 500 }, { on: 'dataset' });
    expect((await fetch(`${sim.url}${BASE}/public-trees/records`)).status).toBe(200);
    expect((await fetch(`${sim.url}${BASE}/public-trees`)).status).toBe(500);
    sim.injectFault({ type: 'html' }, { on: 'catalog' });
    const html = await fetch(`${sim.url}/api/explore/v2.1/catalog/datasets`);
    expect([html.status, html.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    sim.injectFault({ type: 'quota' }, { times: 2 });
    expect((await fetch(`${sim.url}${BASE}/public-trees`)).status).toBe(429);
    expect((await fetch(`${sim.url}${BASE}/public-trees`)).status).toBe(429);
    expect((await fetch(`${sim.url}${BASE}/public-trees`)).status).toBe(200);
    expect(sim.requests.map((request) => [request.endpoint, request.status, request.fault ?? null])).toEqual([
      ['export', 200, 'cutExport'],
      ['records', 200, null],
      ['dataset', 500, 'status'],
      ['catalog', 200, 'html'],
      ['dataset', 429, 'quota'],
      ['dataset', 429, 'quota'],
      ['dataset', 200, null],
    ]);
  });

  it('a private portal refuses calls without its API key, in the header or the query', async () => {
    const closed = await startOdsSimulator({ apiKey: 's3cret', datasets: [treesDataset(1)] });
    try {
      expect((await fetch(`${closed.url}${BASE}/public-trees`)).status).toBe(401);
      expect((await fetch(`${closed.url}${BASE}/public-trees`, { headers: { authorization: 'Apikey wrong' } })).status).toBe(401);
      expect((await fetch(`${closed.url}${BASE}/public-trees`, { headers: { authorization: 'ApiKey s3cret' } })).status).toBe(200);
      expect((await fetch(`${closed.url}${BASE}/public-trees?apikey=s3cret`)).status).toBe(200);
    } finally {
      await closed.close();
    }
  });

  it('other routes can be mounted on the same portal', async () => {
    sim.mount([
      {
        method: 'POST',
        path: /^\/api\/custom\/(?<dataset>[^/]+)\/ping\/$/,
        handle: ({ res, params, note }) => {
          note.endpoint = 'ping';
          note.dataset = params['dataset'] as string;
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"status": "OK"}');
        },
      },
    ]);
    const response = await fetch(`${sim.url}/api/custom/live/ping/`, { method: 'POST', body: '{}' });
    expect(await response.json()).toEqual({ status: 'OK' });
    expect(sim.requests.at(-1)).toMatchObject({ method: 'POST', endpoint: 'ping', dataset: 'live', status: 200 });
  });
});
