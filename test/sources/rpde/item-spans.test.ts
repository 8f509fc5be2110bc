import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConformanceReport } from '../../../src/sources/rpde/conformance.js';
import { decodePage } from '../../../src/sources/rpde/page.js';
import { scanPage } from '../../../src/sources/rpde/page-scan.js';

const runs = Number(process.env['FC_RUNS'] ?? 100);
const itemSpans = (text: string) => scanPage(text, Number.MAX_SAFE_INTEGER, 'https://e.com/f').spans;
const slice = (text: string, span: readonly [number, number] | undefined) => (span ? text.slice(span[0], span[1]) : undefined);

describe('exact item values from the page text', () => {
  it('finds the source text of id, modified and data, big integers and odd spacing included', () => {
    const text =
      '{ "license":"x", "items" : [ {"state":"updated","id" : 18446744073709551615,\n"modified":16868761346890000001,' +
      '"data": {"n": 9007199254740993, "s": "a \\"quoted\\" }]", "x": [1.50, {"deep": []}]}}, "junk",' +
      ' {"id":"b","data":{"v":1},"data":{"v":2}} ], "next":"https://e.com/f" }';
    const spans = itemSpans(text);
    expect(spans).toHaveLength(3);
    expect(slice(text, spans[0]?.id)).toBe('18446744073709551615');
    expect(slice(text, spans[0]?.modified)).toBe('16868761346890000001');
    expect(slice(text, spans[0]?.data)).toBe('{"n": 9007199254740993, "s": "a \\"quoted\\" }]", "x": [1.50, {"deep": []}]}');
    expect(spans[1]).toBeUndefined();
    // Duplicate keys: the last one wins, as in JSON.parse.
    expect(slice(text, spans[2]?.data)).toBe('{"v":2}');
  });

  it('takes only the item\'s own members: keys of the same names nested in other values, or outside items, are not its', () => {
    const text = '{"id":0,"items":[{"meta":{"id":9,"data":[{"modified":8}]},"id":"a","modified":1,"data":{"id":7}},[{"id":6}],{"x":"id"}],"data":5}';
    const spans = itemSpans(text);
    expect(spans).toHaveLength(3);
    expect([slice(text, spans[0]?.id), slice(text, spans[0]?.modified), slice(text, spans[0]?.data)]).toEqual(['"a"', '1', '{"id":7}']);
    expect(spans[1]).toBeUndefined();
    expect(spans[2]).toEqual({});
  });

  it('follows JSON.parse on escaped keys and on a repeated items key', () => {
    const text = '{"items":[{"id":1}],"items":[{"\\u0069d":2,"modified":3}]}';
    const spans = itemSpans(text);
    expect(spans).toHaveLength(1);
    expect(slice(text, spans[0]?.id)).toBe('2');
  });

  it('agrees with JSON.parse on any page: each data span parses to the parsed data', () => {
    const item = fc.record({
      state: fc.constantFrom('updated', 'deleted'),
      id: fc.oneof(fc.string(), fc.integer()),
      modified: fc.oneof(fc.integer(), fc.string()),
      data: fc.jsonValue(),
    });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 5 }), fc.constantFrom(0, 2), (items, indent) => {
        const text = JSON.stringify({ next: 'https://e.com/f', items, license: 'x' }, null, indent);
        const spans = itemSpans(text);
        items.forEach((expected, index) => {
          const span = spans[index];
          expect(JSON.parse(slice(text, span?.data) as string)).toEqual(JSON.parse(JSON.stringify(expected.data)));
          expect(JSON.parse(slice(text, span?.id) as string)).toEqual(expected.id);
        });
      }),
      { numRuns: runs },
    );
  });

  it('stores data exactly as published (numbers past 2^53 and all)', () => {
    const text = '{"next":"https://e.com/f","license":"x","items":[{"state":"updated","kind":"k","id":"a","modified":1,"data":{"n":9007199254740993,"x":1.50}}]}';
    const [item] = decodePage(text, 'https://e.com/f', new ConformanceReport()).items;
    expect(item?.data).toBe('{"n":9007199254740993,"x":1.50}');
  });
});
