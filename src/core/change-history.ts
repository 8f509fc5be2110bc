/**
 * How many changes a stream applied in each of its last hours, for the status page's sparkline.
 * A fixed ring of hourly buckets, so what the store keeps per stream stays the same size however
 * long the daemon runs: hours older than the ring are forgotten as newer ones are counted.
 */
export interface ChangeHistory {
  /** The hour of the last bucket, in whole hours since the epoch (UTC). */
  readonly hour: number;
  /** Changes per hour, oldest first; the last entry is `hour`. */
  readonly counts: readonly number[];
}

export const HISTORY_HOURS = 24;

const HOUR_MS = 3_600_000;

function hourOf(at: Date): number {
  return Math.floor(at.getTime() / HOUR_MS);
}

/** The history with `changes` more in the hour of `at`; an `at` before the ring's start is dropped. */
export function addChanges(history: ChangeHistory | undefined, at: Date, changes: number): ChangeHistory {
  const hour = hourOf(at);
  const base = history ? shiftTo(history, Math.max(hour, history.hour)) : { hour, counts: new Array<number>(HISTORY_HOURS).fill(0) };
  const index = HISTORY_HOURS - 1 - (base.hour - hour);
  if (index < 0) return base;
  const counts = [...base.counts];
  counts[index] = (counts[index] ?? 0) + changes;
  return { hour: base.hour, counts };
}

/** Changes per hour over the HISTORY_HOURS hours up to the hour of `now`, oldest first (zeros where none were counted). */
export function lastHours(history: ChangeHistory | undefined, now: Date): number[] {
  if (!history) return new Array<number>(HISTORY_HOURS).fill(0);
  return [...shiftTo(history, Math.max(hourOf(now), history.hour)).counts];
}

function shiftTo(history: ChangeHistory, hour: number): ChangeHistory {
  const shift = Math.min(HISTORY_HOURS, hour - history.hour);
  if (shift <= 0) return { hour: history.hour, counts: normalised(history.counts) };
  return { hour, counts: [...normalised(history.counts).slice(shift), ...new Array<number>(shift).fill(0)] };
}

/** A stored ring of another length (or a hand-edited row) read as one of HISTORY_HOURS entries. */
function normalised(counts: readonly number[]): number[] {
  const tail = counts.slice(-HISTORY_HOURS).map((count) => (Number.isFinite(count) && count > 0 ? count : 0));
  return [...new Array<number>(HISTORY_HOURS - tail.length).fill(0), ...tail];
}
