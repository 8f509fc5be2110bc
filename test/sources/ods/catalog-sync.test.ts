import { describe, expect, it } from 'vitest';
import { ActionRequiredError, RetryLaterError } from '../../../src/core/source.js';
import { createHttpClient } from '../../../src/http/undici-client.js';
import { startOdsSimulator } from '../../../src/simulators/ods/ods-simulator.js';
import type { DatasetDefinition } from '../../../src/simulators/ods/portal-data.js';
import { OdsCatalogSource, type CatalogSettings } from '../../../src/sources/ods/catalog-source.js';
import { ExploreClient } from '../../../src/sources/ods/explore-client.js';
import { memoryLogger } from '../../helpers/silent-log.js';
import { treesDataset } from '../../simulators/ods/test-datasets.js';
import { portalProxy, portalTestbed } from './portal-testbed.js';

function small(id: string, extra: Partial<DatasetDefinition> = {}): DatasetDefinition {
  return { id, fields: [{ name: 'v', type: 'int' }], records: [{ v: 1 }], metas: { default: { title: `Dataset ${id}`, publisher: id.startsWith('city') ? 'City' : 'Other' } }, ...extra };
}

describe('ods-catalog: a portal\'s catalog mirrored by dataset_uid', () => {
  const bed = portalTestbed(() => [treesDataset(5), small('city-budget'), small('other-roads')]);

  function source(overrides: Partial<CatalogSettings> = {}): OdsCatalogSource {
    return new OdsCatalogSource({
      id: 'ods:cat:catalog',
      jobId: 'cat',
      portal: bed.sim.url,
      apiKey: undefined,
      prefix: 'cat',
      where: undefined,
      refine: [],
      includeInspire: false,
      includeEmpty: false,
      goneAfter: 3,
      now: bed.now,
      ...overrides,
    });
  }

  const sync = (stream = source()) => bed.sync(stream);
  const syncFails = (stream = source()) => bed.syncFails(stream);
  const datasets = async () => bed.store.readTable('cat_datasets');
  const byId = async (id: string) => (await datasets()).find((row) => row['dataset_id'] === id);

  it('maps each dataset to one row keyed by uid, with Markdown, tags as JSON, resources; only changed datasets are written again', async () => {
    const first = await sync();
    expect(first.upserted).toBe(3 + 4 + 2 + 2);
    const trees = await byId('public-trees');
    expect(trees).toMatchObject({
      dataset_uid: bed.sim.portal.get('public-trees').uid,
      title: 'Public trees',
      description: 'Trees on **boulevards** and in parks.\n\n-   Street trees\n-   Park trees',
      tags: '["trees","canopy","Parks, recreation, and pets","Environment"]',
      publisher: 'City of Example',
      reference: 'https://example.org/trees',
      explore_url: `${bed.sim.url}/explore/dataset/public-trees/`,
      has_records: true,
      geo: true,
      records_count: 5,
      state: 'present',
      gone_at: null,
    });
    expect((await bed.store.readTable('cat_resources')).filter((row) => row['dataset_uid'] === trees?.['dataset_uid']).map((row) => row['resource_id'])).toEqual([
      'export:csv',
      'export:geojson',
      'export:json',
      'export:shp',
    ]);
    bed.sim.portal.setMetas('city-budget', { title: 'Budget' });
    const second = await sync();
    expect([second.upserted, second.deleted]).toEqual([1, 0]);
    expect((await byId('city-budget'))?.['title']).toBe('Budget');
  });

  it('a renamed dataset_id updates the same row', async () => {
    await sync();
    const uid = bed.sim.portal.get('city-budget').uid;
    bed.sim.portal.renameDataset('city-budget', 'city-budget-2026');
    await sync();
    const rows = await datasets();
    expect(rows).toHaveLength(3);
    expect(rows.find((row) => row['dataset_uid'] === uid)).toMatchObject({ dataset_id: 'city-budget-2026', explore_url: `${bed.sim.url}/explore/dataset/city-budget-2026/`, state: 'present' });
  });

  it('marks a dataset gone after 3 complete listings without it, and present again when it comes back', async () => {
    await sync();
    const removed = bed.sim.portal.get('other-roads');
    bed.sim.portal.removeDataset('other-roads');
    await sync();
    await sync();
    expect(await byId('other-roads')).toMatchObject({ state: 'present', missing_since: 2 });
    bed.time += 60_000;
    await sync();
    expect(await byId('other-roads')).toMatchObject({ state: 'gone', gone_at: new Date(bed.time).toISOString() });
    expect((await bed.store.readTable('cat_resources')).some((row) => row['dataset_uid'] === removed.uid)).toBe(false);
    bed.sim.portal.addDataset({ ...small('other-roads'), uid: removed.uid });
    await sync();
    expect(await byId('other-roads')).toMatchObject({ state: 'present', gone_at: null, missing_since: null });
  });

  it('a listing that fails midway changes nothing: rows, absences and cursor stay as they were', async () => {
    for (let index = 0; index < 150; index += 1) bed.sim.portal.addDataset(small(`city-${String(index).padStart(3, '0')}`));
    await sync();
    const before = { rows: await datasets(), cursor: (await bed.store.readState('ods:cat:catalog'))?.cursor };
    bed.sim.portal.removeDataset('city-000');
    bed.sim.portal.setMetas('other-roads', { title: 'Changed' });
    const pages = bed.sim.requests.length;
    // The first page passes, the second fails.
    bed.sim.injectFault({ type: 'status', status: 500 }, { on: 'catalog', after: 1 });
    const failure = await syncFails();
    expect(failure.message).toMatch(/catalog of http:\/\/127\.0\.0\.1:\d+: HTTP 500/);
    expect(bed.sim.requests.slice(pages).map((request) => [request.query.get('offset'), request.status])).toEqual([
      ['0', 200],
      ['100', 500],
    ]);
    expect(await datasets()).toEqual(before.rows);
    expect((await bed.store.readState('ods:cat:catalog'))?.cursor).toEqual(before.cursor);
    await sync();
    expect((await byId('other-roads'))?.['title']).toBe('Changed');
  });

  it('a dataset removed between two pages makes the listing incomplete: the dataset the pages then skip is not counted absent', async () => {
    for (let index = 0; index < 150; index += 1) bed.sim.portal.addDataset(small(`city-${String(index).padStart(3, '0')}`));
    const once = source({ goneAfter: 1 });
    await sync(once);
    // Once the first page is sent, city-000 goes: city-100 moves onto the first page, and the second starts after it.
    let removed = false;
    const proxy = await portalProxy(bed.sim.url, (url, body) => {
      if (!removed && url.startsWith('/api/explore/v2.1/catalog/datasets?') && new URL(url, 'http://x').searchParams.get('offset') === '0') {
        removed = true;
        bed.sim.portal.removeDataset('city-000');
      }
      return body;
    });
    try {
      await sync(source({ goneAfter: 1, portal: proxy.origin }));
    } finally {
      await proxy.close();
    }
    expect(removed).toBe(true);
    expect((await bed.store.readState('ods:cat:catalog'))?.details).toMatchObject({ lastListing: { listed: 152, complete: false, via: 'pages' } });
    expect(await byId('city-100')).toMatchObject({ state: 'present', missing_since: null });
    expect(await byId('city-000')).toMatchObject({ state: 'present', missing_since: null });
    await sync(once);
    expect(await byId('city-000')).toMatchObject({ state: 'gone' });
    expect((await datasets()).filter((row) => row['state'] === 'gone').map((row) => row['dataset_id'])).toEqual(['city-000']);
  });

  it('pages by dataset_id 100 at a time; past 10,000 datasets it lists the catalog export instead', async () => {
    for (let index = 0; index < 250; index += 1) bed.sim.portal.addDataset(small(`city-${String(index).padStart(3, '0')}`));
    await sync();
    const listing = bed.sim.requests.filter((request) => request.endpoint === 'catalog');
    expect(listing.map((request) => [request.query.get('offset'), request.query.get('limit'), request.query.get('order_by')])).toEqual([
      ['0', '100', 'dataset_id'],
      ['100', '100', 'dataset_id'],
      ['200', '100', 'dataset_id'],
    ]);
    expect(await datasets()).toHaveLength(253);
    for (let index = 250; index < 10_050; index += 1) bed.sim.portal.addDataset({ id: `city-${String(index).padStart(5, '0')}`, fields: [], attachments: [{ id: 'f', title: 'f.pdf', mimetype: 'application/pdf', url: 'odsfile://f.pdf' }] });
    const big = await sync();
    expect(big.upserted).toBeGreaterThanOrEqual(9800);
    expect(await datasets()).toHaveLength(10_053);
    expect(bed.sim.requests.at(-1)?.endpoint).toBe('catalog-export');
    expect((await bed.store.readState('ods:cat:catalog'))?.details).toMatchObject({ lastListing: { listed: 10_053, complete: true, via: 'export' } });
  });

  it('leaves out INSPIRE datasets unless asked, and datasets with nothing to offer unless asked', async () => {
    bed.sim.portal.addDataset(small('geo-inspire', { metas: { default: {}, inspire: { theme: ['Hydrography'] } } }));
    bed.sim.portal.addDataset({ id: 'empty', fields: [] });
    await sync();
    expect((await datasets()).map((row) => row['dataset_id']).sort()).toEqual(['city-budget', 'other-roads', 'public-trees']);
    expect((await bed.store.readState('ods:cat:catalog'))?.details).toMatchObject({ skipped: { inspire: 1, noData: 1 } });
    await sync(source({ prefix: 'all', includeInspire: true, includeEmpty: true }));
    expect((await bed.store.readTable('all_datasets')).map((row) => row['dataset_id']).sort()).toEqual(['city-budget', 'empty', 'geo-inspire', 'other-roads', 'public-trees']);
  });

  it('passes where and refine to the portal; a malformed where is refused with the portal\'s message, never retried', async () => {
    await sync(source({ where: 'publisher = "City"', refine: ['features:analyze'] }));
    expect((await datasets()).map((row) => row['dataset_id'])).toEqual(['city-budget']);
    const retrying = createHttpClient({ maxRetries: 3, retryBaseDelayMs: 1 });
    try {
      const before = bed.sim.requests.length;
      const failure = await bed.syncFails(source({ where: 'publisher ==' }), retrying);
      expect(failure.cause).toBeInstanceOf(ActionRequiredError);
      expect(failure.message).toMatch(/catalog of .*: the portal refused the request \(400 ODSQLError: ODSQL query is malformed: .*Clause\(s\) containing the error\(s\): where\.\)/);
      expect(bed.sim.requests.length - before).toBe(1);
    } finally {
      await retrying.close();
    }
  });

  it('warns once per client when 5 % or less of the day\'s calls remain, with what is left and when the quota resets', async () => {
    const portal = await startOdsSimulator({ quota: 40, now: bed.now, datasets: [small('city-x')] });
    try {
      const { log, lines } = memoryLogger('warn');
      const client = new ExploreClient({ portal: portal.url, apiKey: undefined, http: bed.http, signal: new AbortController().signal, log, now: bed.now });
      const lookup = () => client.json('/catalog/datasets/city-x', {}, 'dataset city-x');
      for (let call = 1; call <= 37; call += 1) await lookup();
      expect(lines).toEqual([]);
      // The 38th call leaves 2 of 40: 5 %.
      await lookup();
      await lookup();
      expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
        expect.objectContaining({ msg: 'ODS portal call quota nearly used up', subject: 'dataset city-x', remaining: 2, limit: 40, resetsAt: portal.quota.resetAt().toISOString() }),
      ]);
    } finally {
      await portal.close();
    }
  });

  it('waits for the quota to reset on a 429, and needs an API key where the portal asks for one', async () => {
    bed.sim.quota.exhaust();
    const failure = await syncFails();
    expect(failure.cause).toBeInstanceOf(RetryLaterError);
    expect(failure.retryAfterMs).toBe(bed.sim.quota.resetAt().getTime() - bed.time);
    const closed = await startOdsSimulator({ apiKey: 's3cret', datasets: [small('city-x')] });
    try {
      const refused = await syncFails(source({ portal: closed.url }));
      expect(refused.message).toMatch(/the portal refused access \(401.*\): it needs an API key \(apiKey\)/);
      await sync(source({ portal: closed.url, apiKey: 's3cret', prefix: 'closed' }));
      expect(await bed.store.readTable('closed_datasets')).toHaveLength(1);
    } finally {
      await closed.close();
    }
  });
});
