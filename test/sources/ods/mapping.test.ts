import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../../../src/core/json.js';
import { hasInspireRecord, hasNoData, resourceRows, tagsOf } from '../../../src/sources/ods/catalog-rows.js';
import { readDatasetObject } from '../../../src/sources/ods/dataset-object.js';
import { jsonArrayItems, jsonLines } from '../../../src/sources/ods/json-stream.js';
import { parseReset, resetWaitMs } from '../../../src/sources/ods/rate-limit.js';
import { planRecordTable, recordRow, recordTableName, schemaChanges } from '../../../src/sources/ods/record-table.js';

const PORTAL = 'https://data.example.org';

function dataset(overrides: Record<string, JsonValue>): ReturnType<typeof readDatasetObject> {
  return readDatasetObject({ dataset_id: 'd', dataset_uid: 'da_1', has_records: true, features: [], fields: [], metas: { default: {} }, ...overrides }, 'dataset d');
}

async function collect(generator: AsyncGenerator<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of generator) out.push(item);
  return out;
}

function chunks(...parts: string[]): Readable {
  return Readable.from(parts.map((part) => Buffer.from(part, 'utf8')));
}

describe('catalog rows', () => {
  it('rewrites odsfile:// attachments and alternative exports to the portal\'s download URLs, keeps external ones', () => {
    const rows = resourceRows(
      dataset({
        has_records: false,
        dataset_id: 'gtfs feed',
        attachments: [{ id: 'cities1000_zip', title: 'cities1000.zip', mimetype: 'application/zip', url: 'odsfile://cities1000.zip' }],
        alternative_exports: [
          { id: 'gtfs_zip', title: 'gtfs', mimetype: 'application/zip', url: 'odsfile://gtfs5.zip', description: 'GTFS 15/01' },
          { id: 'ext', title: 'External', mimetype: 'application/pdf', url: 'https://cdn.example.net/x.pdf' },
        ],
      }),
      PORTAL,
    );
    expect(rows).toEqual([
      ['da_1', 'alternative_export:gtfs_zip', 'alternative_export', 'gtfs', 'zip', 'application/zip', 'https://data.example.org/api/v2/catalog/datasets/gtfs%20feed/alternative_exports/gtfs_zip', 'GTFS 15/01'],
      ['da_1', 'alternative_export:ext', 'alternative_export', 'External', 'pdf', 'application/pdf', 'https://cdn.example.net/x.pdf', null],
      ['da_1', 'attachment:cities1000_zip', 'attachment', 'cities1000.zip', 'zip', 'application/zip', 'https://data.example.org/api/v2/catalog/datasets/gtfs%20feed/attachments/cities1000_zip', null],
    ]);
  });

  it('offers a Shapefile export of a geo dataset only up to 50,000 records', () => {
    const geo = (count: number) => resourceRows(dataset({ features: ['geo'], metas: { default: { records_count: count } } }), PORTAL).map((row) => row[1]);
    expect(geo(50_000)).toEqual(['export:csv', 'export:json', 'export:geojson', 'export:shp']);
    expect(geo(50_001)).toEqual(['export:csv', 'export:json', 'export:geojson']);
  });

  it('tells an INSPIRE record from an empty or null inspire template, and a dataset with nothing to offer', () => {
    expect(hasInspireRecord(dataset({ metas: { default: {}, inspire: { theme: null, type: '' } } }))).toBe(false);
    expect(hasInspireRecord(dataset({ metas: { default: {}, inspire: null } }))).toBe(false);
    expect(hasInspireRecord(dataset({ metas: { default: {}, inspire: { theme: ['Hydrography'] } } }))).toBe(true);
    expect(hasNoData(dataset({ has_records: false }))).toBe(true);
    expect(hasNoData(dataset({ has_records: false, attachments: [{ id: 'a', url: 'odsfile://a.pdf' }] }))).toBe(false);
  });

  it('tags: keywords then themes, each once, a theme with commas kept whole, a scalar keyword as one tag', () => {
    expect(tagsOf(dataset({ metas: { default: { keyword: 'single, word', theme: ['Parks, recreation, and pets', 'Parks, recreation, and pets'] } } }))).toEqual([
      'single, word',
      'Parks, recreation, and pets',
    ]);
  });
});

describe('records tables', () => {
  const fields = [
    { name: 'n', type: 'int', annotations: {} },
    { name: 'x', type: 'double', annotations: {} },
    { name: 'ok', type: 'boolean', annotations: {} },
  ];

  it('refuses values the field type cannot hold, naming the record and field; reads numbers sent as text', () => {
    const table = planRecordTable('t', readDatasetObject({ dataset_id: 'd', fields }, 'd').fields, undefined, 'dataset d');
    expect(recordRow(table, { recordid: 'r', n: '12', x: '1.5', ok: false }, () => 'dataset d: line 1')).toEqual(['r', null, 12, 1.5, false]);
    expect(() => recordRow(table, { recordid: 'r', n: 1.5 }, () => 'dataset d: line 2')).toThrow('dataset d: line 2: field n (int) has 1.5, not an integer');
    expect(() => recordRow(table, { recordid: 'r', ok: 'yes' }, () => 'dataset d: line 3')).toThrow('field ok (boolean) has "yes", not true or false');
  });

  it('refuses field names that cannot be columns, or that clash with the technical columns', () => {
    expect(() => planRecordTable('t', [{ name: '2020', type: 'int', label: undefined, annotations: {} }], undefined, 'dataset d')).toThrow('dataset d: field name "2020" is not a valid identifier');
    expect(() => planRecordTable('t', [{ name: 'Record_Id', type: 'text', label: undefined, annotations: {} }], undefined, 'dataset d')).toThrow('clashes with another column');
    expect(() => planRecordTable('t', [], ['nope'], 'dataset d')).toThrow('the unique key names nope');
  });

  it('names what changed in a schema: added, removed, retyped (a field becoming multivalued included)', () => {
    const before = [
      { name: 'a', odsType: 'text', column: 'text' as const },
      { name: 'b', odsType: 'int', column: 'integer' as const },
      { name: 'c', odsType: 'text', column: 'text' as const },
    ];
    const now = [
      { name: 'a', odsType: 'text[]', column: 'json' as const },
      { name: 'c', odsType: 'text', column: 'text' as const },
      { name: 'd', odsType: 'date', column: 'text' as const },
    ];
    expect(schemaChanges(before, now)).toEqual(['added d (date)', 'removed b', 'retyped a text -> text[]']);
    expect(schemaChanges(before, before)).toEqual([]);
  });

  it('names default tables after the dataset id, shortened with a hash past 63 characters', () => {
    expect(recordTableName('van', 'Public-Trees')).toBe('van_public_trees');
    const long = recordTableName('van', 'x'.repeat(80));
    expect(long).toMatch(/^van_x+_[0-9a-f]{8}$/);
    expect(long.length).toBeLessThanOrEqual(63);
  });
});

describe('export bodies read as they arrive', () => {
  it('splits a JSON array into items across chunk boundaries, brackets and commas inside strings included', async () => {
    const items = await collect(jsonArrayItems(chunks('\uFEFF [{"a": "x,]}\\"', '[", "b": [1, 2]}', ', 3 , "s"', ']  '), 1000));
    expect(items).toEqual(['{"a": "x,]}\\"[", "b": [1, 2]}', '3', '"s"']);
    expect(await collect(jsonArrayItems(chunks('[]'), 10))).toEqual([]);
  });

  it('refuses an array cut before its closing bracket, and an item past the limit', async () => {
    await expect(collect(jsonArrayItems(chunks('[{"a": 1}, {"b"'), 1000))).rejects.toThrow('the array ended before its closing ]');
    await expect(collect(jsonArrayItems(chunks('[{"a": "', 'x'.repeat(50)), 20))).rejects.toThrow('an item of the array exceeds limits.lineBytes (20 bytes)');
    await expect(collect(jsonArrayItems(chunks(''), 10))).rejects.toThrow('empty');
  });

  it('splits JSON lines across chunks, CRLF and a last line without newline included', async () => {
    expect(await collect(jsonLines(chunks('{"a":1}\r\n{"b"', ':2}\n\n{"c":3}'), 100))).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    await expect(collect(jsonLines(chunks('x'.repeat(30)), 20))).rejects.toThrow('line 1 exceeds limits.lineBytes (20 bytes)');
  });
});

describe('quota resets', () => {
  it('reads the v2.1 date string, ISO instants and epoch seconds; an unknown reset waits an hour', () => {
    expect(parseReset('2026-08-18 00:00:00+00:00')?.toISOString()).toBe('2026-08-18T00:00:00.000Z');
    expect(parseReset('1787011200')?.toISOString()).toBe('2026-08-18T00:00:00.000Z');
    const now = new Date('2026-08-17T23:00:00Z');
    expect(resetWaitMs(undefined, '2026-08-18 00:00:00+00:00', now)).toBe(3_600_000);
    expect(resetWaitMs('2026-08-17T23:30:00Z', '2026-08-18 00:00:00+00:00', now)).toBe(1_800_000);
    expect(resetWaitMs(undefined, undefined, now)).toBe(3_600_000);
  });
});
