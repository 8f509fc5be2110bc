import { LimitExceededError, longerThanBytes } from '../../core/limits.js';

/**
 * Export bodies read as they arrive, one record at a time: an export can hold millions of
 * records, and must never be held in memory whole.
 */

export class JsonStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonStreamError';
  }
}

/**
 * The lines of a JSON Lines body (empty lines skipped, a final line without its newline kept). A
 * line longer than `maxLineBytes` (UTF-8) is refused (LimitExceededError, `lineBytes`) rather than
 * buffered. A line that spans chunks is kept in pieces, and only new text is searched for its end,
 * so a long line costs time linear in its length.
 */
export async function* jsonLines(body: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let open: string[] = [];
  let openBytes = 0;
  let number = 0;
  const tooLong = () => new LimitExceededError('lineBytes', maxLineBytes, `line ${number + 1}`);
  for await (const chunk of body) {
    const text = decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      let line = text.slice(start, end);
      if (open.length > 0) {
        line = open.join('') + line;
        open = [];
        openBytes = 0;
      }
      start = end + 1;
      if (longerThanBytes(line, maxLineBytes)) throw tooLong();
      number += 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.length > 0) yield line;
    }
    if (start < text.length) {
      const rest = text.slice(start);
      open.push(rest);
      openBytes += Buffer.byteLength(rest, 'utf8');
      if (openBytes > maxLineBytes) throw tooLong();
    }
  }
  const last = (open.join('') + decoder.decode()).replace(/\r$/, '');
  if (longerThanBytes(last, maxLineBytes)) throw tooLong();
  if (last.length > 0) yield last;
}

/**
 * The items of a body that is one JSON array, each as its JSON text, as they arrive. Strings are
 * followed so that brackets and commas inside them do not count. A body that ends before the
 * closing `]` is refused: an export cut short must not pass for a shorter one.
 */
export async function* jsonArrayItems(body: AsyncIterable<Buffer>, maxItemBytes: number): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let started = false;
  let closed = false;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let item = '';
  let itemBytes = 0;
  for await (const chunk of body) {
    const text = decoder.decode(chunk, { stream: true });
    let itemStart = 0;
    for (let i = 0; i < text.length; i += 1) {
      const char = text[i] as string;
      if (closed) {
        if (!/\s/.test(char)) throw new JsonStreamError(`unexpected ${JSON.stringify(char)} after the closing ]`);
        continue;
      }
      if (!started) {
        if (char === '[') {
          started = true;
          itemStart = i + 1;
        } else if (!/[\s\uFEFF]/.test(char)) {
          throw new JsonStreamError(`expected a JSON array, found ${JSON.stringify(char)}`);
        }
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (char === '\\') escaped = true;
        else if (char === '"') inString = false;
        continue;
      }
      if (char === '"') inString = true;
      else if (char === '{' || char === '[') depth += 1;
      else if (char === '}' || char === ']') {
        if (depth > 0) depth -= 1;
        else {
          const last = (item + text.slice(itemStart, i)).trim();
          if (last.length > 0) yield last;
          item = '';
          itemBytes = 0;
          closed = true;
        }
      } else if (char === ',' && depth === 0) {
        const done = (item + text.slice(itemStart, i)).trim();
        if (done.length === 0) throw new JsonStreamError('an empty item in the array');
        yield done;
        item = '';
        itemBytes = 0;
        itemStart = i + 1;
      }
    }
    if (started && !closed) {
      const rest = text.slice(itemStart);
      item += rest;
      // An item carried over to the next chunk; one whole within a chunk is no larger than the chunk.
      itemBytes += Buffer.byteLength(rest, 'utf8');
      if (itemBytes > maxItemBytes) throw new LimitExceededError('lineBytes', maxItemBytes, 'an item of the array');
    }
  }
  if (!closed) throw new JsonStreamError(started ? 'the array ended before its closing ] (cut short?)' : 'the body is empty where a JSON array was expected');
}
