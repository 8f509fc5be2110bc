import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRecord, type JsonValue } from '../../../src/core/json.js';
import { ActionRequiredError, RetryLaterError, StreamGoneError } from '../../../src/core/source.js';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { datasetRow, datasetsTable, hasInspireRecord, hasNoData, resourceRows, tagsOf } from '../../../src/sources/ods/catalog-rows.js';
import { defaultMeta as defaultMetaOf, readDatasetObject, type OdsDatasetObject } from '../../../src/sources/ods/dataset-object.js';
import { ExploreClient } from '../../../src/sources/ods/explore-client.js';
import { ExploreAnswerError, ExploreNotFoundError, ExploreRefusedError } from '../../../src/sources/ods/explore-errors.js';
import { jsonArrayItems } from '../../../src/sources/ods/json-stream.js';
import { rateLimitOf } from '../../../src/sources/ods/rate-limit.js';
import { planRecordTable, recordRow } from '../../../src/sources/ods/record-table.js';
import { OdsRecordsSource } from '../../../src/sources/ods/records-source.js';
import { startServer, type LoopbackServer } from '../../http/loopback-server.js';
import { memoryLogger } from '../../helpers/silent-log.js';
import { capture, fixture, replay, type Capture } from './captures.js';

const PORTAL = 'https://opendata.vancouver.ca';
const { log } = memoryLogger('silent');

/** Keeps a one-line rows view of a table row for assertions. */
function named(columns: readonly string[], row: readonly unknown[]): Record<string, unknown> {
  return Object.fromEntries(columns.map((column, index) => [column, row[index]]));
}

function datasetColumns(): string[] {
  return datasetsTable('x').columns.map((column) => column.name);
}

describe('what the client makes of real portal answers', () => {
  let server: LoopbackServer;
  let http: UndiciHttpClient;
  const routes = new Map<string, Capture>();

  beforeAll(async () => {
    server = await startServer((req, res) => {
      const answer = routes.get((req.url ?? '').split('?')[0] ?? '');
      if (answer === undefined) {
        res.writeHead(599).end();
        return;
      }
      replay(res, answer);
    });
    http = createHttpClient({ maxRetries: 2, retryBaseDelayMs: 1 });
  });

  afterAll(async () => {
    await http.close();
    await server.close();
  });

  function client(now = new Date('2026-08-17T02:40:37Z')): ExploreClient {
    return new ExploreClient({ portal: server.origin, apiKey: undefined, http, signal: new AbortController().signal, log, now: () => now });
  }

  /** A snapshot records stream of a dataset of the replayed portal. */
  function recordsSource(datasetId: string, mode: 'snapshot' | 'incremental' = 'snapshot'): OdsRecordsSource {
    return new OdsRecordsSource({
      id: `ods:v:${datasetId}`,
      jobId: 'v',
      portal: server.origin,
      apiKey: undefined,
      datasetId,
      table: `v_${datasetId.replaceAll('-', '_')}`,
      uniqueKey: undefined,
      mode,
      overlapMs: 0,
      reconcileEveryMs: 0,
    });
  }

  /** Serves a capture at its own path (below the Explore API root). */
  function serve(answer: Capture, path = new URL(answer.url).pathname.replace('/api/explore/v2.1', '')): string {
    routes.set(`/api/explore/v2.1${path}`, answer);
    return path;
  }

  describe('vancouver/ (Explore API v2.1, with status and headers)', () => {
    it('metadata-public-trees: a dataset object mapped to its catalog row, resources and records table', async () => {
      const answer = capture('metadata-public-trees');
      const dataset = readDatasetObject((await client().json(serve(answer), {}, 'dataset public-trees')) as JsonValue, 'dataset public-trees');
      expect(dataset).toMatchObject({ datasetId: 'public-trees', datasetUid: 'da_6wnys1', hasRecords: true, features: ['analyze', 'timeserie', 'geo'] });
      expect(Object.keys(dataset.metas)).toEqual(['dcat', 'default', 'custom']);
      expect(dataset.fields.find((field) => field.name === 'species_name')?.annotations).toEqual({ facet: true, disjunctive: true, facetsort: 'alphanum', sortable: true });
      const row = named(datasetColumns(), datasetRow(dataset, PORTAL));
      expect(row).toMatchObject({
        dataset_uid: 'da_6wnys1',
        dataset_id: 'public-trees',
        title: 'Public trees',
        tags: '["Streets and transportation"]',
        license: 'Open Government Licence - Vancouver',
        license_url: 'https://opendata.vancouver.ca/pages/licence/',
        explore_url: 'https://opendata.vancouver.ca/explore/dataset/public-trees/',
        reference: null,
        publisher: 'City of Vancouver',
        has_records: true,
        geo: true,
        modified: '2026-06-22T13:50:25+00:00',
        data_processed: '2026-06-22T13:50:25+00:00',
        metadata_processed: '2026-08-16T13:47:06.995000+00:00',
        records_count: 185845,
        state: 'present',
      });
      expect(row['description']).toMatch(/^The public tree dataset includes/);
      expect(row['description']).toContain('### Data currency');
      expect(row['description']).toMatch(/^- +\[Street Tree Bylaw\]\(http:\/\/vancouver\.ca\/your-government\/street-tree-bylaw\.aspx\)$/m);
      expect(row['description']).not.toMatch(/<\w/);
      expect(JSON.parse(row['metas'] as string)).toEqual((answer.body as { metas: unknown }).metas);
      // 185,845 records: past the 50,000 up to which a Shapefile export is whole.
      expect(resourceRows(dataset, PORTAL).map((resource) => [resource[1], resource[6]])).toEqual([
        ['export:csv', 'https://opendata.vancouver.ca/api/explore/v2.1/catalog/datasets/public-trees/exports/csv'],
        ['export:json', 'https://opendata.vancouver.ca/api/explore/v2.1/catalog/datasets/public-trees/exports/json'],
        ['export:geojson', 'https://opendata.vancouver.ca/api/explore/v2.1/catalog/datasets/public-trees/exports/geojson'],
      ]);
      const table = planRecordTable('trees', dataset.fields, undefined, 'dataset public-trees');
      expect(table.spec.columns.map((column) => `${column.name}:${column.type}`)).toEqual([
        'record_id:text',
        'record_timestamp:timestamp',
        'asset_id:integer',
        'address:text',
        'common_name:text',
        'genus_name:text',
        'species_name:text',
        'cultivar_name:text',
        'height_m:real',
        'diameter_cm:real',
        'date_planted:text',
        'geom:json',
        'geo_point_2d:json',
      ]);
      expect(hasInspireRecord(dataset)).toBe(false);
      expect(rateLimitOf(answer.headers)).toEqual({ limit: 15000, remaining: 14767, resetAt: new Date('2026-08-18T00:00:00Z') });
    });

    it('metadata-property-tax-report: no geo feature, so no GeoJSON; null keywords; an all-null dcat template is no INSPIRE record', async () => {
      const answer = capture('metadata-property-tax-report');
      const dataset = readDatasetObject((await client().json(serve(answer), {}, 'dataset property-tax-report')) as JsonValue, 'dataset property-tax-report');
      expect(dataset.datasetUid).toBe('da_34rtj6');
      expect(resourceRows(dataset, PORTAL).map((resource) => resource[1])).toEqual(['export:csv', 'export:json']);
      expect(named(datasetColumns(), datasetRow(dataset, PORTAL))).toMatchObject({ records_count: 1553146, geo: false, has_records: true });
      expect(defaultMetaOf(dataset, 'keyword')).toBeNull();
      expect(tagsOf(dataset)).toEqual(['Government and finance']);
      expect(hasInspireRecord(dataset)).toBe(false);
      expect(hasNoData(dataset)).toBe(false);
    });

    it('error-not-found: a 404 NotFoundResource names the dataset, and marks its records stream gone', async () => {
      const answer = capture('error-not-found');
      const path = serve(answer);
      const failure = client().json(path, {}, 'dataset does-not-exist');
      await expect(failure).rejects.toBeInstanceOf(ExploreNotFoundError);
      await expect(failure).rejects.toThrow('dataset does-not-exist: not found on the portal (404 NotFoundResource: The requested dataset does-not-exist does not exist.)');
      const source = recordsSource('does-not-exist');
      const events = source.read({ cursor: null, details: null, signal: new AbortController().signal, http, log })[Symbol.asyncIterator]();
      await expect(events.next()).rejects.toBeInstanceOf(StreamGoneError);
    });

    it('error-odsql: a 400 ODSQLError is refused at once with the portal\'s message, never retried', async () => {
      const answer = capture('error-odsql');
      const path = serve(answer);
      const before = server.requests.length;
      const failure = client().stream(path, { select: 'no_such_field' }, 'dataset public-trees');
      await expect(failure).rejects.toBeInstanceOf(ExploreRefusedError);
      await expect(failure).rejects.toBeInstanceOf(ActionRequiredError);
      await expect(failure).rejects.toThrow(
        'dataset public-trees: the portal refused the request (400 ODSQLError: ODSQL query is malformed: Unknown field: no_such_field. Clause(s) containing the error(s): select.)',
      );
      expect(server.requests.length - before).toBe(1);
      expect(answer.headers['x-ratelimit-remaining']).toBeUndefined();
    });

    it('catalog-export (CSV, no dataset_uid column) and the CSV record exports are not what the client reads: refused, naming the type', async () => {
      for (const name of ['catalog-export', 'data-public-trees-csv', 'data-property-tax-report']) {
        const answer = capture(name);
        expect(answer.headers['content-type']).toBe('text/csv; charset=utf-8');
        await expect(client().json(serve(answer), {}, `capture ${name}`)).rejects.toThrow(
          `capture ${name}: the portal answered "text/csv; charset=utf-8" with status 200 where JSON was expected`,
        );
      }
      const catalogHeader = (capture('catalog-export').body as string).split('\r\n')[0] ?? '';
      expect(catalogHeader.split(';')).toContain('datasetid');
      expect(catalogHeader.split(';').some((column) => /uid/.test(column))).toBe(false);
    });

    it('data-public-trees-csv: served where a JSON Lines export is expected, the records stream fails naming the dataset and the line', async () => {
      serve(capture('metadata-public-trees'), '/catalog/datasets/public-trees');
      serve({ ...capture('aggregate-ungrouped'), body: { total_count: 185845, results: [{ recordid: 'x', record_timestamp: '2026-06-22T13:50:25+00:00' }] } }, '/catalog/datasets/public-trees/records');
      serve({ ...capture('data-public-trees-csv'), headers: { ...capture('data-public-trees-csv').headers, 'content-type': 'application/jsonl' } }, '/catalog/datasets/public-trees/exports/jsonl');
      const source = recordsSource('public-trees');
      const events: unknown[] = [];
      const run = (async () => {
        for await (const event of source.read({ cursor: null, details: null, signal: new AbortController().signal, http, log })) events.push(event);
      })();
      await expect(run).rejects.toThrow(/^dataset public-trees: export line 1 is not JSON/);
      expect(events).toHaveLength(1);
    });

    it('aggregate-ungrouped: a records page whose row lacks the selected recordid means the portal does not return ids', async () => {
      serve(capture('metadata-public-trees'), '/catalog/datasets/public-trees');
      serve(capture('aggregate-ungrouped'), '/catalog/datasets/public-trees/records');
      const source = recordsSource('public-trees');
      const events = source.read({ cursor: null, details: null, signal: new AbortController().signal, http, log })[Symbol.asyncIterator]();
      const failure = events.next();
      await expect(failure).rejects.toBeInstanceOf(ActionRequiredError);
      await expect(failure).rejects.toThrow('dataset public-trees: the portal does not return recordid, by which records are keyed; set "key" for this dataset');
    });

    it('a records page with recordid but no record_timestamp: the incremental mode is refused, naming the dataset and the mode to use', async () => {
      serve(capture('metadata-public-trees'), '/catalog/datasets/public-trees');
      serve({ ...capture('aggregate-ungrouped'), body: { total_count: 185845, results: [{ recordid: '3dbf1e8af981e84b4d12ff4bf4c5d490acda1e6a' }] } }, '/catalog/datasets/public-trees/records');
      const events = recordsSource('public-trees', 'incremental').read({ cursor: null, details: null, signal: new AbortController().signal, http, log })[Symbol.asyncIterator]();
      const failure = events.next();
      await expect(failure).rejects.toBeInstanceOf(ActionRequiredError);
      await expect(failure).rejects.toThrow('dataset public-trees: the portal does not return record_timestamp, which the incremental mode reads from; use mode "snapshot"');
    });

    it('aggregate-grouped: a JSON export read item by item, nulls grouped first', async () => {
      const answer = capture('aggregate-grouped');
      const response = await client().stream(serve(answer), {}, 'dataset public-trees');
      const items: unknown[] = [];
      for await (const text of jsonArrayItems(response.body, 1 << 20)) items.push(JSON.parse(text));
      expect(items).toHaveLength(171);
      expect(items[0]).toEqual({ genus_name: null, count: 41 });
      expect(items).toEqual(answer.body);
    });

    it('facets-public-trees and facets-catalog: JSON the client reads, with the quota headers it watches', async () => {
      const remaining: number[] = [];
      for (const name of ['facets-public-trees', 'facets-catalog']) {
        const answer = capture(name);
        const body = await client().json(serve(answer), {}, name);
        expect(body).toEqual(answer.body);
        remaining.push(rateLimitOf(answer.headers)?.remaining ?? -1);
      }
      expect(remaining).toEqual([14760, 14759]);
    });

    it('every 200 capture carries the rate-limit headers, the reset a date string; the 400 and 404 do not', () => {
      const names = ['catalog-export', 'metadata-public-trees', 'metadata-property-tax-report', 'data-public-trees-csv', 'data-property-tax-report', 'aggregate-grouped', 'aggregate-ungrouped', 'facets-public-trees', 'facets-catalog'];
      const limits = names.map((name) => rateLimitOf(capture(name).headers));
      // One call per capture, whatever the endpoint: exports are not dearer (one recorded call is not kept: a binary export).
      expect(limits.map((limit) => limit?.remaining)).toEqual([14768, 14767, 14766, 14764, 14763, 14762, 14761, 14760, 14759]);
      expect(new Set(limits.map((limit) => limit?.resetAt?.toISOString()))).toEqual(new Set(['2026-08-18T00:00:00.000Z']));
      expect(['error-odsql', 'error-not-found'].map((name) => rateLimitOf(capture(name).headers))).toEqual([undefined, undefined]);
    });
  });

  describe('the examples of the published description (openapi.json)', () => {
    const examples = (fixture('openapi.json') as { components: { examples: Record<string, { value: JsonValue }>; responses: Record<string, { content: Record<string, { examples: Record<string, { value: JsonValue }> }> }> } })
      .components;
    const example = (name: string) => examples.examples[name]?.value as JsonValue;

    it('datasets-v2.1 and dataset-v2.1: catalog rows keyed by uid, tags keeping theme names with commas whole', () => {
      const results = (example('datasets-v2.1') as { results: JsonValue[] }).results.map((value) => readDatasetObject(value, 'catalog'));
      expect(results.map((dataset) => named(datasetColumns(), datasetRow(dataset, PORTAL))['dataset_uid'])).toEqual(['da_6kvv9v', 'da_5m8ykr']);
      const geonames = readDatasetObject(example('dataset-v2.1'), 'dataset');
      expect(geonames.datasetUid).toBe('da_s2n5ed');
      expect(tagsOf(geonames)).toEqual(['Geonames', 'city', 'world', 'Administration, Government, Public finances, Citizenship']);
      expect(resourceRows(geonames, PORTAL).map((resource) => resource[1])).toEqual(['export:csv', 'export:json', 'export:geojson']);
      // Array annotations (the description's examples) read as the scalar ones real portals send.
      expect(geonames.fields.find((field) => field.name === 'geoname_id')?.annotations).toEqual({ facetsort: '-count', id: true });
    });

    it('records-v2.1 and record-v2.1: rows of the geonames table keyed by its Unique ID field; multivalued and geo values as JSON', () => {
      const geonames = readDatasetObject(example('dataset-v2.1'), 'dataset');
      const table = planRecordTable('geonames', geonames.fields, ['geoname_id'], 'dataset geonames');
      const rows = [...(example('records-v2.1') as { results: JsonValue[] }).results, example('record-v2.1')].map((record, index) =>
        named(table.columns, recordRow(table, record, () => `record ${index}`)),
      );
      expect(rows[0]).toMatchObject({ record_id: null, geoname_id: '2978771', alternate_names: '["Saint-Leu"]', coordinates: '{"lat":46.7306,"lon":4.50083}', population: 29278 });
      expect(rows[2]).toMatchObject({ geoname_id: '2798031', name: 'Fraire' });
    });

    it('attachments: the download URL an odsfile:// attachment is rewritten to is the href the portal itself gives', () => {
      const [attachment] = (example('attachments') as { attachments: { href: string; metas: { 'mime-type': string; title: string } }[] }).attachments;
      const geonames = readDatasetObject(
        { ...(example('dataset-v2.1') as Record<string, JsonValue>), attachments: [{ id: 'cities1000_zip', title: 'cities1000.zip', mimetype: 'application/zip', url: 'odsfile://cities1000.zip' }] },
        'dataset',
      );
      const [row] = resourceRows(geonames, 'https://documentation-resources.opendatasoft.com').filter((resource) => resource[2] === 'attachment');
      expect(row?.[6]).toBe(attachment?.href);
      expect([row?.[3], row?.[5]]).toEqual([attachment?.metas.title, attachment?.metas['mime-type']]);
    });

    it('group_by_country-v2.1: aggregate rows carry no record id, so they are refused as records', () => {
      const geonames = readDatasetObject(example('dataset-v2.1'), 'dataset');
      const table = planRecordTable('geonames', geonames.fields, undefined, 'dataset geonames');
      const [row] = (example('group_by_country-v2.1') as { results: JsonValue[] }).results;
      expect(() => recordRow(table, row as JsonValue, () => 'dataset geonames: row 1')).toThrow('dataset geonames: row 1: no recordid');
    });

    it('the 400 and 429 bodies: refused with the portal\'s words; the quota waited out until its reset_time', async () => {
      const bad = examples.responses['bad_request']?.content['application/json; charset=utf-8']?.examples['invalid_odsql']?.value as JsonValue;
      const quota = examples.responses['quota']?.content['application/json; charset=utf-8']?.examples['quota_exceeded']?.value as JsonValue;
      serve({ url: '', status: 400, headers: { 'content-type': 'application/json' }, body: bad }, '/catalog/datasets/spec-400');
      serve({ url: '', status: 429, headers: { 'content-type': 'application/json' }, body: quota }, '/catalog/datasets/spec-429');
      await expect(client().json('/catalog/datasets/spec-400', {}, 'dataset spec-400')).rejects.toThrow(
        'dataset spec-400: the portal refused the request (400 ODSQLError: ODSQL query is malformed: invalid_function() Clause(s) containing the error(s): select.)',
      );
      const failure = await client(new Date('2021-01-25T18:00:00Z')).json('/catalog/datasets/spec-429', {}, 'dataset spec-429').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(RetryLaterError);
      expect((failure as RetryLaterError).retryAfterMs).toBe(6 * 3_600_000);
      expect((failure as Error).message).toBe(
        "dataset spec-429: the portal's call quota is used up (429: Too many requests on the domain. Please contact the domain administrator.); waiting until 2021-01-26T00:00:00.000Z",
      );
    });
  });

  describe('terriajs/ (Explore API v2.0, where its shapes match v2.1)', () => {
    it('datasets.json: the `dataset` of each entry is a dataset object with a uid', () => {
      const entries = (fixture('terriajs/datasets.json') as { datasets: { dataset: JsonValue }[] }).datasets;
      const datasets = entries.map((entry) => readDatasetObject(entry.dataset, 'catalog'));
      expect(datasets).toHaveLength(6);
      expect(datasets.every((dataset) => /^da_/.test(dataset.datasetUid ?? ''))).toBe(true);
      expect(datasets.map((dataset) => named(datasetColumns(), datasetRow(dataset, PORTAL))['explore_url'])).toContain(
        'https://opendata.vancouver.ca/explore/dataset/campbelltown-heat-aggregated-measures/',
      );
    });

    it('weather-station-dataset and weather-station-100: the v2.0 record id and timestamp are what recordid and record_timestamp carry', () => {
      const dataset: OdsDatasetObject = readDatasetObject((fixture('terriajs/weather-station-dataset.json') as { dataset: JsonValue }).dataset, 'dataset weather-stations');
      const table = planRecordTable('weather', dataset.fields, undefined, 'dataset weather-stations');
      expect(table.spec.columns.find((column) => column.name === 'metadata_time')?.type).toBe('timestamp');
      expect(table.spec.columns.find((column) => column.name === 'geolocation')?.type).toBe('json');
      const records = (fixture('terriajs/weather-station-100.json') as { records: { record: { id: string; timestamp: string; fields: Record<string, JsonValue> } }[] }).records;
      const rows = records.map(({ record }, index) => named(table.columns, recordRow(table, { recordid: record.id, record_timestamp: record.timestamp, ...record.fields }, () => `record ${index}`)));
      expect(rows).toHaveLength(100);
      expect(rows.every((row) => /^[0-9a-f]{40}$/.test(row['record_id'] as string))).toBe(true);
      expect(rows[0]).toMatchObject({ record_id: '3dbf1e8af981e84b4d12ff4bf4c5d490acda1e6a', record_timestamp: '2021-06-18T06:00:47.176Z', metadata_time: '2021-06-18T06:00:37+00:00' });
    });

    it('weather-station-groupby: aggregate rows have no id and are refused as records', () => {
      const dataset = readDatasetObject((fixture('terriajs/weather-station-dataset.json') as { dataset: JsonValue }).dataset, 'dataset weather-stations');
      const table = planRecordTable('weather', dataset.fields, undefined, 'dataset weather-stations');
      const [first] = (fixture('terriajs/weather-station-groupby.json') as { records: { record: { fields: JsonValue } }[] }).records;
      expect(isRecord(first?.record.fields)).toBe(true);
      expect(() => recordRow(table, first?.record.fields as JsonValue, () => 'group 1')).toThrow('group 1: no recordid');
    });
  });

  it('a 200 with an HTML page is an ExploreAnswerError naming the subject', async () => {
    serve({ url: '', status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<html><body>Sign in</body></html>' }, '/catalog/datasets/html');
    await expect(client().json('/catalog/datasets/html', {}, 'dataset html')).rejects.toBeInstanceOf(ExploreAnswerError);
  });
});
