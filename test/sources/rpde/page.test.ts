import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConformanceReport } from '../../../src/sources/rpde/conformance.js';
import { decodePage, RpdePageError } from '../../../src/sources/rpde/page.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/rpde/${name}`, import.meta.url), 'utf8');
const counts = (report: ConformanceReport) =>
  Object.fromEntries(Object.entries(report.toFindings()).map(([id, entry]) => [id, entry.count]));

describe('decoding RPDE pages', () => {
  it('reads the spec example: an updated item with data and a deleted one without, ids kept verbatim', () => {
    const report = new ConformanceReport();
    const page = decodePage(fixture('rpde-1.0-spec-example-response.json'), 'http://www.example.com/api/rpde/sessions', report);
    expect(page.next).toBe(
      'http://www.example.com/api/rpde/sessions?afterTimestamp=1453931925&afterId=%7Bd97f73fb-4718-48ee-a6a9-9c7d717ebd85%7D',
    );
    expect(page.items.map((item) => [item.id, item.state, item.modified.raw])).toEqual([
      ['{c15814e5-8931-470c-8a16-ef45afedaece}', 'updated', '1453931101'],
      ['{d97f73fb-4718-48ee-a6a9-9c7d717ebd85}', 'deleted', '1453931925'],
    ]);
    expect(JSON.parse(page.items[0]?.data ?? 'null')).toMatchObject({ identifier: 'session-01jz93i3k1p3' });
    expect(page.items[1]?.data).toBeUndefined();
    expect(counts(report)).toEqual({});
  });

  it('reads the last-page fixture as an empty page', () => {
    const report = new ConformanceReport();
    const page = decodePage(fixture('last-page.json'), 'http://www.example.com/last', report);
    expect(page.itemCount).toBe(0);
    expect(page.next).toBe('http://www.example.com/last');
  });

  it('reads legacy items (millisecond modified, type/identifier data) from single-item and multiple-items', () => {
    const single = decodePage(fixture('single-item.json'), 'http://www.example.com/feed', new ConformanceReport());
    expect(single.items).toHaveLength(1);
    expect(single.items[0]).toMatchObject({ id: 'C5CLBD07000317', kind: 'session', state: 'updated' });
    expect(single.items[0]?.modified.raw).toBe('1506335264224');
    const multiple = decodePage(fixture('multiple-items.json'), 'http://www.example.com/feed', new ConformanceReport());
    expect(multiple.items.map((item) => [item.id, item.state])).toEqual([
      ['C3CLAQB20000714', 'deleted'],
      ['C5CLBD07000317', 'updated'],
    ]);
  });

  it('records item problems and skips only the items that cannot be used', () => {
    const report = new ConformanceReport();
    const text = JSON.stringify({
      next: 'https://e.com/f?afterTimestamp=5&afterId=e',
      '@context': 'https://openactive.io/',
      licence: 'typo',
      version: '1.1',
      items: [
        { state: 'Updated', kind: 'session', id: 'a', modified: 1, data: {} },
        { state: 'changed', kind: 'session', id: 'b', modified: 2, data: {} },
        { state: 'updated', kind: 'session', id: 'c', modified: '3', data: {} },
        { state: 'deleted', kind: 7, id: 4, modified: 'x', data: {} },
        { state: 'updated', kind: 'session', modified: 5 },
        { state: 'updated', kind: 'session', id: 'e', modified: 5 },
        'junk',
      ],
    });
    const page = decodePage(text, 'https://e.com/f', report);
    expect(page.itemCount).toBe(7);
    expect(page.items.map((item) => item.id)).toEqual(['a', 'c', '4', 'e']);
    expect(page.items[2]?.kind).toBeNull();
    expect(page.items[3]?.data).toBeUndefined();
    expect(counts(report)).toEqual({
      C5: 1,
      C11: 2,
      'C12:case': 1,
      C12: 1,
      C13: 2,
      C14: 1,
      C15: 1,
      C16: 1,
      C17: 1,
      C30: 1,
      C37: 1,
    });
  });

  it('refuses HTML, a missing next and a non-array items, recording C4/C5', () => {
    const report = new ConformanceReport();
    expect(() => decodePage('<!DOCTYPE html><html>challenge</html>', 'https://e.com/f', report)).toThrow(RpdePageError);
    expect(() => decodePage('{"items":[]}', 'https://e.com/f', report)).toThrow(/"next" is missing/);
    expect(() => decodePage('{"next":"https://e.com/f","items":{}}', 'https://e.com/f', report)).toThrow(/not an array/);
    expect(counts(report)).toEqual({ C4: 1, C5: 2 });
  });

  it('keeps numeric ids and modified values above 2^53 exact', () => {
    const report = new ConformanceReport();
    const text = '{"next":"https://e.com/f","license":"x","items":[{"state":"deleted","kind":"k","id":18446744073709551615,"modified":637890336000000001}]}';
    const [item] = decodePage(text, 'https://e.com/f', report).items;
    expect(item?.id).toBe('18446744073709551615');
    expect(item?.modified.raw).toBe('637890336000000001');
    expect(counts(report)).toEqual({ 'C15:unsafe': 1, C18: 1 });
  });
});
