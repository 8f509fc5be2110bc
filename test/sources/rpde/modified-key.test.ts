import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { integerOfKey, modifiedFromNumberText, modifiedFromString } from '../../../src/sources/rpde/modified-key.js';

const runs = Number(process.env['FC_RUNS'] ?? 100);
const sign = (n: number) => Math.sign(n);
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const compareBig = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

describe('modified keys', () => {
  it('order integers of any size (past 2^53 and 2^64, negative too) as numbers', () => {
    const big = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n });
    fc.assert(
      fc.property(big, big, (a, b) => {
        const ka = modifiedFromNumberText(a.toString()).key;
        const kb = modifiedFromNumberText(b.toString()).key;
        expect(sign(compareText(ka, kb))).toBe(compareBig(a, b));
        expect(integerOfKey(ka)).toBe(a);
      }),
      { numRuns: runs },
    );
  });

  it('tell apart neighbours above 2^53 that a JS number would merge', () => {
    const a = modifiedFromNumberText('637890336000000000');
    const b = modifiedFromNumberText('637890336000000001');
    expect(a.key < b.key).toBe(true);
    expect(a.raw).toBe('637890336000000000');
    expect(a.form).toBe('integer');
  });

  it('order strings lexicographically and flag strings holding integers', () => {
    expect(modifiedFromString('2024-01-02T10:00:00Z').key < modifiedFromString('2024-01-02T10:00:01Z').key).toBe(true);
    const stringInteger = modifiedFromString('999');
    expect(stringInteger.form).toBe('integer-string');
    // Ordered as numbers, not as text ("999" > "1000" as text).
    expect(stringInteger.key < modifiedFromString('1000').key).toBe(true);
    expect(modifiedFromString('abc').form).toBe('string');
    expect(modifiedFromNumberText('1.5').form).toBe('number');
  });
});
