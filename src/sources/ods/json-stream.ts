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
 * line longer than `maxLineChars` is refused rather than buffered.
 */
export async function* jsonLines(body: AsyncIterable<Buffer>, maxLineChars: number): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  for await (const chunk of body) {
    const text = pending + decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      const line = text.slice(start, end).replace(/\r$/, '');
      start = end + 1;
      if (line.length > 0) yield line;
    }
    pending = text.slice(start);
    if (pending.length > maxLineChars) throw new JsonStreamError(`a line is longer than ${maxLineChars} characters`);
  }
  const last = (pending + decoder.decode()).replace(/\r$/, '');
  if (last.length > 0) yield last;
}

/**
 * The items of a body that is one JSON array, each as its JSON text, as they arrive. Strings are
 * followed so that brackets and commas inside them do not count. A body that ends before the
 * closing `]` is refused: an export cut short must not pass for a shorter one.
 */
export async function* jsonArrayItems(body: AsyncIterable<Buffer>, maxItemChars: number): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let started = false;
  let closed = false;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let item = '';
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
          closed = true;
        }
      } else if (char === ',' && depth === 0) {
        const done = (item + text.slice(itemStart, i)).trim();
        if (done.length === 0) throw new JsonStreamError('an empty item in the array');
        yield done;
        item = '';
        itemStart = i + 1;
      }
    }
    if (started && !closed) {
      item += text.slice(itemStart);
      if (item.length > maxItemChars) throw new JsonStreamError(`an item is longer than ${maxItemChars} characters`);
    }
  }
  if (!closed) throw new JsonStreamError(started ? 'the array ended before its closing ] (cut short?)' : 'the body is empty where a JSON array was expected');
}
