import type { JsonValue } from '../../core/json.js';
import type { ItemPosition } from './page-checks.js';

/**
 * What an RPDE stream commits with each page. `next` is the only thing paging needs; the rest
 * serves resync, polling politeness and the checks that span runs.
 */
export interface RpdeCursor {
  /** The URL of the next request: the page's `next` verbatim (resolved only if it was relative). */
  readonly next: string;
  /** The current full pass: its start time in ms, stamped on every item it applies (`seen_pass`). */
  readonly pass: number;
  /** A full pass from the feed's base URL is under way: at its end, unseen items are tombstoned. */
  readonly sweeping: boolean;
  /** Deleted items seen during the sweeping pass (C27: a full pass should see some). */
  readonly passDeleted: number;
  /**
   * When the harvest last progressed (ISO): a page moved the cursor on or was the last page. For
   * polling politeness, and the time without progress that forces a resync; a page that leaves
   * the cursor where it was (self-loop, cycle, refused origin) does not refresh it.
   */
  readonly at: string;
  /** `next` is the last page: the feed was caught up at `at`. */
  readonly atEnd: boolean;
  /** When old tombstones were last pruned (ISO), or null. */
  readonly prunedAt: string | null;
  /** The last item of the last page with items, for the order checks across runs. */
  readonly last: ItemPosition | null;
  readonly strategy: 'timestamp' | 'changeNumber' | null;
}

/** Reads a committed cursor; anything else (null, an older shape) is undefined: start a full pass. */
export function readCursor(value: JsonValue): RpdeCursor | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { next, pass, sweeping, passDeleted, at, atEnd, prunedAt, last, strategy } = value;
  if (typeof next !== 'string' || typeof pass !== 'number' || typeof at !== 'string' || Number.isNaN(Date.parse(at))) {
    return undefined;
  }
  let position: ItemPosition | null = null;
  if (typeof last === 'object' && last !== null && !Array.isArray(last)) {
    const { modified, id } = last;
    if (typeof modified === 'string' && typeof id === 'string') position = { modified, id };
  }
  return {
    next,
    pass,
    sweeping: sweeping === true,
    passDeleted: typeof passDeleted === 'number' ? passDeleted : 0,
    at,
    atEnd: atEnd === true,
    prunedAt: typeof prunedAt === 'string' ? prunedAt : null,
    last: position,
    strategy: strategy === 'timestamp' || strategy === 'changeNumber' ? strategy : null,
  };
}

export function cursorJson(cursor: RpdeCursor): JsonValue {
  return {
    next: cursor.next,
    pass: cursor.pass,
    sweeping: cursor.sweeping,
    passDeleted: cursor.passDeleted,
    at: cursor.at,
    atEnd: cursor.atEnd,
    prunedAt: cursor.prunedAt,
    last: cursor.last === null ? null : { modified: cursor.last.modified, id: cursor.last.id },
    strategy: cursor.strategy,
  };
}
