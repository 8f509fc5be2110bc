import { LimitExceededError } from '../../core/limits.js';

/**
 * The deepest an item may nest (objects and arrays, the item itself counting as one). Deeper JSON
 * is not stored alike by every engine (PostgreSQL's jsonb refuses it: "stack depth limit
 * exceeded"; SQLite keeps the text), so such an item is skipped and reported (C38) on every one.
 */
export const MAX_ITEM_NESTING = 64;

export interface PageScan {
  /** Elements of the root object's `items` array. */
  readonly items: number;
  /** Indexes of the elements nested deeper than MAX_ITEM_NESTING. */
  readonly tooDeep: ReadonlySet<number>;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * Counts a page's items and measures how deep each nests, in one pass over the text before it is
 * parsed: a page of a million tiny items is refused (LimitExceededError, `itemsPerPage`) having
 * held nothing but its text, where JSON.parse would have built every item first. String contents
 * are skipped with indexOf. The text is not known to be JSON yet: on text that is not, the counts
 * mean nothing (JSON.parse refuses the page next), but the pass never fails otherwise and ends.
 */
export function scanPage(text: string, maxItems: number, pageUrl: string): PageScan {
  const n = text.length;
  let depth = 0;
  let lastKeyIsItems = false;
  let inItems = false;
  let expecting = false;
  let count = 0;
  let nesting = 0;
  let tooDeep = new Set<number>();
  const start = (): void => {
    count += 1;
    if (count > maxItems) throw new LimitExceededError('itemsPerPage', maxItems, `page ${pageUrl} (${maxItems.toLocaleString('en-US')} items read, more follow)`);
    expecting = false;
    nesting = 0;
  };
  const finish = (): void => {
    if (!expecting && nesting > MAX_ITEM_NESTING) tooDeep.add(count - 1);
  };
  for (let i = 0; i < n; i += 1) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      if (inItems && depth === 2 && expecting) start();
      const end = stringEnd(text, i + 1);
      if (end < 0) break;
      if (depth === 1) lastKeyIsItems = isItemsKey(text, i, end);
      i = end;
      continue;
    }
    if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (inItems && depth === 2 && expecting) start();
      depth += 1;
      if (code === OPEN_BRACKET && depth === 2 && lastKeyIsItems) {
        // The last `items` wins, as in JSON.parse.
        inItems = true;
        expecting = true;
        count = 0;
        tooDeep = new Set();
      } else if (inItems && depth - 2 > nesting) {
        nesting = depth - 2;
      }
      continue;
    }
    if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      if (inItems && depth === 2) {
        finish();
        inItems = false;
      }
      depth -= 1;
      continue;
    }
    if (code === COMMA) {
      if (inItems && depth === 2) {
        finish();
        expecting = true;
      }
      continue;
    }
    if (code === COLON || code <= 0x20) continue;
    // A number or a literal.
    if (inItems && depth === 2 && expecting) start();
  }
  return { items: count, tooDeep };
}

/** Index of the closing quote of a string whose content starts at `from`; -1 if it has none. */
function stringEnd(text: string, from: number): number {
  let position = from;
  for (;;) {
    const quote = text.indexOf('"', position);
    if (quote < 0) return -1;
    let backslashes = 0;
    for (let i = quote - 1; i >= from && text.charCodeAt(i) === BACKSLASH; i -= 1) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
    position = quote + 1;
  }
}

function isItemsKey(text: string, open: number, close: number): boolean {
  if (close - open === 6) return text.startsWith('items', open + 1);
  if (!text.slice(open + 1, close).includes('\\')) return false;
  try {
    return JSON.parse(text.slice(open, close + 1)) === 'items';
  } catch {
    return false;
  }
}
