import { describe, expect, it } from 'vitest';
import { hasUnsafeNumberToken, numberText, parseJsonText, stringifyJson } from '../../../src/sources/rpde/lossless-json-text.js';

describe('lossless JSON parsing of pages', () => {
  it('keeps integers above 2^53 exact, in items and in nested data', () => {
    const text = '{"items":[{"modified":16868761346890000001,"data":{"n":9007199254740993,"x":1.5}}]}';
    const parsed = parseJsonText(text);
    expect(parsed.lossless).toBe(true);
    const item = (parsed.value as { items: { modified: unknown; data: unknown }[] }).items[0];
    expect(numberText(item?.modified)).toBe('16868761346890000001');
    expect(stringifyJson(item?.data, parsed.lossless)).toBe('{"n":9007199254740993,"x":1.5}');
  });

  it('takes the fast path when long digit runs are only inside strings', () => {
    expect(hasUnsafeNumberToken('{"id":"00000000000170005743","modified":1453931101}')).toBe(false);
    expect(hasUnsafeNumberToken('{"a":"x\\"y 12345678901234567 \\\\","b":1}')).toBe(false);
    expect(parseJsonText('{"id":"00000000000170005743"}').lossless).toBe(false);
  });

  it('takes the lossless path for 16+ digit numbers and exponents outside strings', () => {
    expect(hasUnsafeNumberToken('{"a":"\\\\","m":1234567890123456}')).toBe(true);
    expect(hasUnsafeNumberToken('[1.0e3]')).toBe(true);
    expect(hasUnsafeNumberToken('[true,false,null,123456789012345]')).toBe(false);
    expect(hasUnsafeNumberToken('[0.12345678901234567]')).toBe(true);
  });

  it('treats duplicate keys like JSON.parse (the last one wins) in both paths', () => {
    expect(parseJsonText('{"a":1,"a":2}').value).toEqual({ a: 2 });
    const lossless = parseJsonText('{"a":1,"a":2,"b":12345678901234567890}');
    expect(lossless.lossless).toBe(true);
    expect((lossless.value as { a: number }).a).toBe(2);
  });
});
