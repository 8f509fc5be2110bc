import { LimitExceededError } from '../../core/limits.js';

/**
 * The deepest an item may nest (objects and arrays, the item itself counting as one). Deeper JSON
 * is not stored alike by every engine (PostgreSQL's jsonb refuses it: "stack depth limit
 * exceeded"; SQLite keeps the text), so such an item is skipped and reported (C38) on every one.
 */
export const MAX_ITEM_NESTING = 64;

/** [start, end) offsets into the page text. */
export type Span = readonly [number, number];

/**
 * Where an item's `id`, `modified` and `data` values sit in the page text. `JSON.parse` rounds
 * integers above 2^53 (RPDE `modified` values often are: .NET ticks, SQL Server rowversions) and
 * re-serializing `data` costs as much as parsing it: the page is parsed for its structure, and
 * these spans give the exact source text of those three values, so numbers keep every digit and
 * `data` is stored exactly as the publisher wrote it. Duplicate keys resolve as in `JSON.parse`:
 * the last one wins.
 */
export interface ItemSpans {
  id?: Span;
  modified?: Span;
  data?: Span;
}

export interface PageScan {
  /** Elements of the root object's `items` array. */
  readonly items: number;
  /** Indexes of the elements nested deeper than MAX_ITEM_NESTING. */
  readonly tooDeep: ReadonlySet<number>;
  /** Spans of each element, by index; undefined for an element that is not an object. */
  readonly spans: readonly (ItemSpans | undefined)[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Depths, counted inside the brackets: the root object's members, `items`' elements, an item's members. */
const ROOT = 1;
const ELEMENTS = 2;
const MEMBERS = 3;

/**
 * One pass over a page's text before it is parsed: counts the items, measures how deep each
 * nests, and finds the spans of their `id`, `modified` and `data`. A page of a million tiny
 * items is refused (LimitExceededError, `itemsPerPage`) having held nothing but its text, where
 * JSON.parse would have built every item first. String contents are skipped with indexOf, so
 * the pass costs a fraction of the parse. The text is not known to be JSON yet: on text that is
 * not, the results mean nothing (JSON.parse refuses the page next), but the pass never fails
 * otherwise and ends.
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
  let spans: (ItemSpans | undefined)[] = [];
  // Inside an item object: the member being read, whether its value comes next, where a container value began.
  let item: ItemSpans | undefined;
  let key: keyof ItemSpans | undefined;
  let inValue = false;
  let valueStart = 0;
  const start = (isObject: boolean): void => {
    count += 1;
    if (count > maxItems) throw new LimitExceededError('itemsPerPage', maxItems, `page ${pageUrl} (${maxItems.toLocaleString('en-US')} items read, more follow)`);
    expecting = false;
    nesting = 0;
    item = isObject ? {} : undefined;
    spans.push(item);
  };
  const finish = (): void => {
    if (!expecting && nesting > MAX_ITEM_NESTING) tooDeep.add(count - 1);
  };
  const member = (from: number, to: number): void => {
    if (item !== undefined && key !== undefined) item[key] = [from, to];
    inValue = false;
  };
  const inItem = (): boolean => inItems && depth === MEMBERS && item !== undefined;
  for (let i = 0; i < n; i += 1) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      if (inItems && depth === ELEMENTS && expecting) start(false);
      const end = stringEnd(text, i + 1);
      if (end < 0) break;
      if (depth === ROOT) lastKeyIsItems = keyIs(text, i, end, 'items');
      else if (inItem()) {
        if (inValue) member(i, end + 1);
        else key = itemKey(text, i, end);
      }
      i = end;
      continue;
    }
    if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (inItems && depth === ELEMENTS && expecting) start(code === OPEN_BRACE);
      if (inItem() && inValue) valueStart = i;
      depth += 1;
      if (code === OPEN_BRACKET && depth === ELEMENTS && lastKeyIsItems) {
        // The last `items` wins, as in JSON.parse.
        inItems = true;
        expecting = true;
        count = 0;
        tooDeep = new Set();
        spans = [];
      } else if (inItems && depth - ELEMENTS > nesting) {
        nesting = depth - ELEMENTS;
      }
      if (inItem()) {
        key = undefined;
        inValue = false;
      }
      continue;
    }
    if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      if (inItems && depth === ELEMENTS) {
        finish();
        inItems = false;
      }
      depth -= 1;
      if (inItem() && inValue) member(valueStart, i + 1);
      continue;
    }
    if (code === COMMA) {
      if (inItems && depth === ELEMENTS) {
        finish();
        expecting = true;
      }
      continue;
    }
    if (code === COLON) {
      if (inItem()) inValue = true;
      continue;
    }
    if (code <= 0x20) continue;
    // A number or a literal.
    if (inItems && depth === ELEMENTS && expecting) start(false);
    if (inItem() && inValue) {
      const end = scalarEnd(text, i);
      member(i, end);
      i = end - 1;
    }
  }
  return { items: count, tooDeep, spans };
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

/** Index just past a number or a literal starting at `from`. */
function scalarEnd(text: string, from: number): number {
  let i = from;
  for (; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET || code === COLON || code <= 0x20) break;
  }
  return i;
}

function itemKey(text: string, open: number, close: number): keyof ItemSpans | undefined {
  for (const name of ['id', 'modified', 'data'] as const) if (keyIs(text, open, close, name)) return name;
  return undefined;
}

/** Whether the string between the quotes at `open` and `close` is `name`; escapes (`"d\u0061ta"`) are rare, so only then is it decoded. */
function keyIs(text: string, open: number, close: number, name: string): boolean {
  if (close - open === name.length + 1 && text.startsWith(name, open + 1)) return true;
  if (!text.slice(open + 1, close).includes('\\')) return false;
  try {
    return JSON.parse(text.slice(open, close + 1)) === name;
  } catch {
    return false;
  }
}
