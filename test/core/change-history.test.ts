import { describe, expect, it } from 'vitest';
import { addChanges, HISTORY_HOURS, lastHours, type ChangeHistory } from '../../src/core/change-history.js';

const at = (iso: string) => new Date(iso);

describe('change history', () => {
  it('adds changes of one hour into one bucket, and of the next hour into the next', () => {
    let history: ChangeHistory | undefined;
    history = addChanges(history, at('2026-12-03T10:05:00Z'), 3);
    history = addChanges(history, at('2026-12-03T10:55:00Z'), 4);
    history = addChanges(history, at('2026-12-03T11:01:00Z'), 1);
    expect(lastHours(history, at('2026-12-03T11:30:00Z')).slice(-2)).toEqual([7, 1]);
  });

  it('keeps HISTORY_HOURS buckets however long it runs: older hours are forgotten', () => {
    let history: ChangeHistory | undefined;
    for (let hour = 0; hour < 100; hour++) history = addChanges(history, new Date(Date.UTC(2026, 0, 1, hour)), hour + 1);
    expect(history?.counts).toHaveLength(HISTORY_HOURS);
    const shown = lastHours(history, new Date(Date.UTC(2026, 0, 1, 99, 30)));
    expect(shown).toEqual(Array.from({ length: HISTORY_HOURS }, (_, index) => 100 - HISTORY_HOURS + 1 + index));
  });

  it('shows zeros for the hours since the last change, and nothing once a whole day has passed', () => {
    const history = addChanges(undefined, at('2026-12-03T10:00:00Z'), 9);
    expect(lastHours(history, at('2026-12-03T13:00:00Z')).slice(-4)).toEqual([9, 0, 0, 0]);
    expect(lastHours(history, at('2026-12-05T13:00:00Z'))).toEqual(new Array<number>(HISTORY_HOURS).fill(0));
    expect(lastHours(undefined, at('2026-12-05T13:00:00Z'))).toEqual(new Array<number>(HISTORY_HOURS).fill(0));
  });

  it('counts a change stamped a little before the last bucket (clocks of several daemons) in its own hour, and drops one older than the ring', () => {
    let history = addChanges(undefined, at('2026-12-03T10:00:00Z'), 1);
    history = addChanges(history, at('2026-12-03T09:59:00Z'), 2);
    history = addChanges(history, at('2026-12-01T09:59:00Z'), 50);
    expect(lastHours(history, at('2026-12-03T10:10:00Z')).slice(-2)).toEqual([2, 1]);
    expect(lastHours(history, at('2026-12-03T10:10:00Z')).reduce((sum, count) => sum + count, 0)).toBe(3);
  });

  it('reads a ring of another length, or with bad entries, as HISTORY_HOURS non-negative counts', () => {
    const odd: ChangeHistory = { hour: 500_000, counts: [1, -4, Number.NaN, 2] };
    expect(lastHours(odd, new Date(500_000 * 3_600_000))).toEqual([...new Array<number>(HISTORY_HOURS - 4).fill(0), 1, 0, 0, 2]);
  });
});
