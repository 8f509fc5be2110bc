import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOdsSimulator, type OdsSimulator } from '../../../src/simulators/ods/ods-simulator.js';
import { problemsAgainst, specAnswer } from './explore-spec.js';
import { treesDataset } from './test-datasets.js';

const BASE = '/api/explore/v2.1';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

describe('the simulated portal answers as the published Explore API v2.1 describes', () => {
  let sim: OdsSimulator;

  beforeAll(async () => {
    sim = await startOdsSimulator({ quota: 1000, datasets: [treesDataset(250), { ...treesDataset(0, 'empty'), records: [] }] });
    sim.portal.addDataset({
      id: 'files-only',
      fields: [],
      attachments: [{ id: 'report_pdf', title: 'report.pdf', mimetype: 'application/pdf', url: 'odsfile://report.pdf' }],
    });
  });

  afterAll(() => sim.close());

  async function get(path: string): Promise<Answer> {
    const response = await fetch(`${sim.url}${BASE}${path}`);
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** Checks the body against the description's schema for the path and status, and the media type it names. */
  function expectValid(path: string, answer: Answer): unknown {
    const described = specAnswer(path.split('?')[0] as string, answer.status);
    const body: unknown = JSON.parse(answer.text);
    expect(described.schema, `the description gives a schema for ${path} ${answer.status}`).toBeDefined();
    expect(problemsAgainst(described.schema as string, body)).toEqual([]);
    expect(answer.headers.get('content-type')?.split(';')[0]).toBe(described.mediaType);
    return body;
  }

  function expectRateLimitHeaders(answer: Answer): void {
    expect(answer.headers.get('x-ratelimit-limit')).toBe('1000');
    expect(Number(answer.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(0);
    expect(answer.headers.get('x-ratelimit-reset')).toMatch(/^\d{4}-\d{2}-\d{2} 00:00:00\+00:00$/);
  }

  it('the validation can fail: bodies that break the description are refused', () => {
    expect(problemsAgainst('/components/schemas/dataset-v2.1', { dataset_id: 5, fields: [{ name: 1 }] })).toEqual([
      '/dataset_id must be string',
      '/fields/0/name must be string',
    ]);
    expect(problemsAgainst(specAnswer('/catalog/datasets', 429).schema as string, { errorcode: 10002 })).not.toEqual([]);
    expect(problemsAgainst(specAnswer('/catalog/datasets/x/records', 400).schema as string, { error_code: '', message: 'm' })).not.toEqual([]);
  });

  it('catalog pages, each a results_dataset-v2.1 with one-line JSON and the rate-limit headers', async () => {
    const answer = await get('/catalog/datasets?limit=2&offset=1&order_by=dataset_id');
    expect(answer.status).toBe(200);
    const body = expectValid('/catalog/datasets', answer) as { total_count: number; results: { dataset_id: string }[] };
    expect(body.total_count).toBe(3);
    expect(body.results.map((dataset) => dataset.dataset_id)).toEqual(['files-only', 'public-trees']);
    expect(answer.text).not.toContain('\n');
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expectRateLimitHeaders(answer);
  });

  it('the catalog export: a JSON array of dataset-v2.1 objects', async () => {
    const answer = await get('/catalog/exports/json?order_by=dataset_id&where=has_records = true');
    expect(answer.status).toBe(200);
    expect(specAnswer('/catalog/exports/json', 200).schema).toBeUndefined();
    const items = JSON.parse(answer.text) as unknown[];
    expect(items).toHaveLength(1);
    for (const item of items) expect(problemsAgainst('/components/schemas/dataset-v2.1', item)).toEqual([]);
    expect(answer.headers.get('content-disposition')).toBe('attachment; filename="datasets.json"');
    expectRateLimitHeaders(answer);
  });

  it('a dataset lookup: a dataset-v2.1 object with metas templates, empty data dates on a dataset without data', async () => {
    const trees = expectValid('/catalog/datasets/public-trees', await get('/catalog/datasets/public-trees')) as {
      dataset_uid: string;
      metas: { default: Record<string, unknown>; custom: Record<string, unknown> };
    };
    expect(trees.dataset_uid).toMatch(/^da_/);
    expect(trees.metas.default).toMatchObject({ title: 'Public trees', records_count: 250, data_processed: expect.stringMatching(/\+00:00$/) as unknown });
    expect(trees.metas.custom).toEqual({ 'data-owner': ['City of Example'] });
    const files = expectValid('/catalog/datasets/files-only', await get('/catalog/datasets/files-only')) as { has_records: boolean; metas: { default: Record<string, unknown> } };
    expect(files.has_records).toBe(false);
    expect(files.metas.default).toMatchObject({ data_processed: null, records_count: null });
  });

  it('records pages: results-v2.1 rows of the fields, the technical fields only when selected', async () => {
    const plain = expectValid('/catalog/datasets/public-trees/records', await get('/catalog/datasets/public-trees/records?limit=100&order_by=asset_id')) as {
      total_count: number;
      results: Record<string, unknown>[];
    };
    expect(plain.total_count).toBe(250);
    expect(plain.results).toHaveLength(100);
    expect(Object.keys(plain.results[0] ?? {})).not.toContain('recordid');
    const technical = expectValid(
      '/catalog/datasets/public-trees/records',
      await get('/catalog/datasets/public-trees/records?limit=1&select=recordid,record_timestamp'),
    ) as { results: Record<string, unknown>[] };
    expect(technical.results[0]).toEqual({
      recordid: expect.stringMatching(/^[0-9a-f]{40}$/) as unknown,
      record_timestamp: expect.stringMatching(/^\d{4}-.*\+00:00$/) as unknown,
    });
  });

  it('exports as JSON lines and as a JSON array: every row a record-v2.1', async () => {
    for (const format of ['jsonl', 'json']) {
      const answer = await get(`/catalog/datasets/public-trees/exports/${format}?select=*,recordid as id`);
      expect(answer.status).toBe(200);
      expect(specAnswer(`/catalog/datasets/public-trees/exports/${format}`, 200).schema).toBeUndefined();
      const rows = (format === 'json' ? JSON.parse(answer.text) : answer.text.trimEnd().split('\n').map((line) => JSON.parse(line) as unknown)) as Record<string, unknown>[];
      expect(rows).toHaveLength(250);
      for (const row of rows) expect(problemsAgainst('/components/schemas/record-v2.1', row)).toEqual([]);
      expect(rows[0]).toHaveProperty('id');
      expect(rows[0]).not.toHaveProperty('record_timestamp');
      expect(answer.headers.get('content-disposition')).toBe(`attachment; filename="public-trees.${format}"`);
      expectRateLimitHeaders(answer);
    }
  });

  it('errors: pretty-printed JSON without a charset and without rate-limit headers, bodies the description accepts', async () => {
    const cases: [string, number, string, RegExp][] = [
      ['/catalog/datasets/public-trees/records?limit=101', 400, 'InvalidRESTParameterError', /^Invalid value for limit API parameter: 101 was found but -1 <= limit <= 100 is expected\.$/],
      ['/catalog/datasets/public-trees/records?limit=100&offset=9901', 400, 'InvalidRESTParameterError', /offset \+ limit/],
      ['/catalog/datasets?limit=100&offset=9901', 400, 'InvalidRESTParameterError', /offset \+ limit/],
      [
        '/catalog/datasets/public-trees/exports/jsonl?select=no_such_field',
        400,
        'ODSQLError',
        /^ODSQL query is malformed: Unknown field: no_such_field\. Clause\(s\) containing the error\(s\): select\.$/,
      ],
      ['/catalog/datasets/public-trees/records?where=height_m >', 400, 'ODSQLError', /Clause\(s\) containing the error\(s\): where\./],
    ];
    for (const [path, status, code, message] of cases) {
      const answer = await get(path);
      expect(answer.status, path).toBe(status);
      const body = expectValid(path.split('?')[0] as string, answer) as { error_code: string; message: string };
      expect(body.error_code).toBe(code);
      expect(body.message).toMatch(message);
      expect(answer.text).toBe(JSON.stringify(body, null, 2));
      expect(answer.headers.get('content-type')).toBe('application/json');
      expect(answer.headers.get('x-ratelimit-remaining')).toBeNull();
    }
  });

  it('accepts offset + limit of exactly 10,000 on records and catalog', async () => {
    expect((await get('/catalog/datasets/public-trees/records?limit=100&offset=9900')).status).toBe(200);
    expect((await get('/catalog/datasets?limit=100&offset=9900')).status).toBe(200);
  });

  it('a 404 NotFoundResource for an unknown dataset: the shape of the described error body (the description lists no 404)', async () => {
    const answer = await get('/catalog/datasets/does-not-exist');
    expect(answer.status).toBe(404);
    expect(() => specAnswer('/catalog/datasets/does-not-exist', 404)).toThrow(/lists no 404/);
    const body: unknown = JSON.parse(answer.text);
    expect(problemsAgainst('/components/responses/bad_request/content/application~1json; charset=utf-8/schema', body)).toEqual([]);
    expect(body).toEqual({ error_code: 'NotFoundResource', message: 'The requested dataset does-not-exist does not exist.' });
    expect(answer.headers.get('content-type')).toBe('application/json');
  });

  it('a 429 once the day\'s calls are spent: the described quota body, until the quota resets', async () => {
    sim.quota.exhaust();
    const answer = await get('/catalog/datasets');
    expect(answer.status).toBe(429);
    const body = expectValid('/catalog/datasets', answer) as { reset_time: string; call_limit: number };
    expect(body.call_limit).toBe(1000);
    expect(Date.parse(body.reset_time)).toBe(sim.quota.resetAt().getTime());
    expect((await get('/catalog/datasets/public-trees')).status).toBe(429);
    sim.quota.reset();
    expect((await get('/catalog/datasets/public-trees')).status).toBe(200);
  });
});
