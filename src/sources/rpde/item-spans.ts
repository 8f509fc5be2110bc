/**
 * Where each item's `id`, `modified` and `data` values sit in a page's JSON text.
 *
 * `JSON.parse` rounds integers above 2^53 (RPDE `modified` values often are: .NET ticks, SQL
 * Server rowversions) and re-serializing `data` costs as much as parsing it. So a page is parsed
 * with `JSON.parse` for its structure, and this pass over the same (by then known valid) text
 * finds the exact source text of those three values: numbers keep every digit, and `data` is
 * stored exactly as the publisher wrote it, never re-serialized. String contents are skipped with
 * `indexOf`, so the pass costs a fraction of the parse.
 *
 * Duplicate keys resolve as in `JSON.parse`: the last one wins.
 */
export interface ItemSpans {
  id?: Span;
  modified?: Span;
  data?: Span;
}

/** [start, end) offsets into the page text. */
export type Span = readonly [number, number];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/**
 * Spans of the items of the root object's `items` array, by array index (undefined for an
 * element that is not an object). `text` must be valid JSON: call it after `JSON.parse` succeeded.
 */
export function itemSpans(text: string): (ItemSpans | undefined)[] {
  let items: (ItemSpans | undefined)[] = [];
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return items;
  i = skipSpace(text, i + 1);
  while (text.charCodeAt(i) !== CLOSE_BRACE) {
    const keyEnd = endOfString(text, i + 1);
    const key = keyOf(text, i, keyEnd);
    i = skipSpace(text, skipSpace(text, keyEnd) + 1); // past the colon
    if (key === 'items' && text.charCodeAt(i) === OPEN_BRACKET) {
      [items, i] = itemsArray(text, i);
    } else {
      if (key === 'items') items = [];
      i = endOfValue(text, i);
    }
    i = skipSpace(text, i);
    if (text.charCodeAt(i) === COMMA) i = skipSpace(text, i + 1);
  }
  return items;
}

function itemsArray(text: string, start: number): [(ItemSpans | undefined)[], number] {
  const items: (ItemSpans | undefined)[] = [];
  let i = skipSpace(text, start + 1);
  while (text.charCodeAt(i) !== CLOSE_BRACKET) {
    if (text.charCodeAt(i) === OPEN_BRACE) {
      const [spans, end] = itemObject(text, i);
      items.push(spans);
      i = end;
    } else {
      items.push(undefined);
      i = endOfValue(text, i);
    }
    i = skipSpace(text, i);
    if (text.charCodeAt(i) === COMMA) i = skipSpace(text, i + 1);
  }
  return [items, i + 1];
}

function itemObject(text: string, start: number): [ItemSpans, number] {
  const spans: ItemSpans = {};
  let i = skipSpace(text, start + 1);
  while (text.charCodeAt(i) !== CLOSE_BRACE) {
    const keyEnd = endOfString(text, i + 1);
    const key = keyOf(text, i, keyEnd);
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1);
    const valueEnd = endOfValue(text, valueStart);
    if (key === 'id' || key === 'modified' || key === 'data') spans[key] = [valueStart, valueEnd];
    i = skipSpace(text, valueEnd);
    if (text.charCodeAt(i) === COMMA) i = skipSpace(text, i + 1);
  }
  return [spans, i + 1];
}

/** A key's value; escapes (`"d\u0061ta"`) are rare, so only then is it decoded. */
function keyOf(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end - 1);
  return raw.includes('\\') ? (JSON.parse(text.slice(start, end)) as string) : raw;
}

/** Index just past the value starting at `start`. */
function endOfValue(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return endOfString(text, start + 1);
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    let i = start;
    while (i < text.length && !isDelimiter(text.charCodeAt(i))) i += 1;
    return i;
  }
  // In valid JSON, counting brackets outside strings finds the matching close.
  let depth = 0;
  let i = start;
  for (;;) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      i = endOfString(text, i + 1);
      continue;
    }
    if (code === OPEN_BRACE || code === OPEN_BRACKET) depth += 1;
    else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth -= 1;
      if (depth === 0) return i + 1;
    }
    i += 1;
  }
}

/** Index just past the closing quote of a string whose content starts at `from`. */
function endOfString(text: string, from: number): number {
  let position = from;
  for (;;) {
    const quote = text.indexOf('"', position);
    if (quote === -1) throw new SyntaxError('unterminated string');
    let backslashes = 0;
    for (let i = quote - 1; i >= from && text.charCodeAt(i) === BACKSLASH; i -= 1) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    position = quote + 1;
  }
}

function isDelimiter(code: number): boolean {
  return code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET || code === COLON || isSpace(code);
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (isSpace(text.charCodeAt(i))) i += 1;
  return i;
}
