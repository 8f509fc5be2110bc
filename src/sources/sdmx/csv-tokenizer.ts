/**
 * An incremental RFC 4180 tokenizer for SDMX-CSV bodies, fed text as it arrives.
 *
 * csv-parse, used before, spent most of a full load in its per-character option checks, and could
 * not tell a quoted empty cell (a present empty string) from an unquoted one (omitted) without a
 * second scan of every record's raw text. Here a line without a quote, which is nearly every
 * SDMX-CSV row, is split natively; only records with quotes take the character loop. Its results
 * are checked against csv-parse on random input (test/sources/sdmx/csv-tokenizer.test.ts).
 *
 * Records end at `\n` or `\r\n`; empty lines are skipped; a leading BOM is dropped. Inside quotes,
 * `""` is one quote and line breaks are kept. A quote inside an unquoted cell, or anything but a
 * delimiter or line break after a closing quote, is an error (as in csv-parse without relax_quotes).
 *
 * A record that spans chunks is not scanned again with each chunk: its pieces are kept apart, and
 * only the new text is searched for the line break that ends the record (one outside quotes, told
 * by the parity of the quotes so far). So a long line costs time linear in its length however it
 * is cut, and past `lineBytes` it is refused before the rest of it is held.
 */
import { LimitExceededError, longerThanBytes } from '../../core/limits.js';

/** A cell: its text (`""` gives a present empty string), or undefined for an unquoted empty cell. */
export type CsvField = string | undefined;

/** Receives each record with the line it starts on; returning false pauses the tokenizer after it. */
export type CsvRecordHandler = (fields: CsvField[], line: number) => boolean | void;

export class CsvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvSyntaxError';
  }
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

export interface CsvTokenizerLimits {
  /** Longest record, in UTF-8 bytes (its line break excluded). */
  readonly lineBytes?: number;
  /** Longest cell, in UTF-8 bytes. */
  readonly cellBytes?: number;
}

export class CsvTokenizer {
  /** Text read but not yet tokenized after a pause: whole records, then maybe the start of one. */
  private pending = '';
  /** The start of a record whose end has not arrived, in pieces (joined once, when it ends). */
  private open: string[] = [];
  private openBytes = 0;
  /** Whether the quotes in `open` leave a quoted cell open (a line break there does not end the record). */
  private openInQuotes = false;
  /** The line `pending` (or `open`) starts on. */
  private line = 1;
  private atStart = true;
  private readonly delimiterCode: number;
  private readonly lineBytes: number;
  private readonly cellBytes: number;
  /** Records longer than this many UTF-16 units are measured for the limits; shorter ones cannot exceed them. */
  private readonly measureFrom: number;
  private scanned = 0;

  constructor(
    private readonly delimiter: string,
    limits: CsvTokenizerLimits = {},
  ) {
    if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
      throw new Error(`cannot tokenize CSV with the delimiter ${JSON.stringify(delimiter)}`);
    }
    this.delimiterCode = delimiter.charCodeAt(0);
    this.lineBytes = limits.lineBytes ?? Number.MAX_SAFE_INTEGER;
    this.cellBytes = limits.cellBytes ?? Number.MAX_SAFE_INTEGER;
    this.measureFrom = Math.floor(Math.min(this.lineBytes, this.cellBytes) / 3);
  }

  /**
   * Characters examined so far, counting each pass over a piece of text by its length: stays within
   * a small multiple of the input's length however it is cut (test/sources/sdmx/csv-tokenizer.test.ts).
   */
  get charsScanned(): number {
    return this.scanned;
  }

  /**
   * Tokenizes the complete records of what was pending plus `text`; an incomplete last record
   * waits for the next call. Returns false when the handler paused it (call again with '' to go on).
   */
  push(text: string, onRecord: CsvRecordHandler): boolean {
    if (this.open.length > 0) {
      if (!this.endsRecord(text)) {
        this.open.push(text);
        this.openBytes += Buffer.byteLength(text, 'utf8');
        if (this.openBytes > this.lineBytes) throw this.lineTooLong(this.line);
        return true;
      }
      const input = this.open.join('') + text;
      this.open = [];
      return this.scan(input, false, onRecord);
    }
    return this.scan(this.pending === '' ? text : this.pending + text, false, onRecord);
  }

  /** Whether `text`, following the open record, holds the line break that ends it; keeps the quote parity. */
  private endsRecord(text: string): boolean {
    this.scanned += text.length;
    let inQuotes = this.openInQuotes;
    let from = 0;
    let lineBreak = text.indexOf('\n');
    for (;;) {
      const quote = text.indexOf('"', from);
      if (!inQuotes && lineBreak >= 0 && (quote < 0 || lineBreak < quote)) return true;
      if (quote < 0) break;
      inQuotes = !inQuotes;
      from = quote + 1;
      if (lineBreak >= 0 && lineBreak < from) lineBreak = text.indexOf('\n', from);
    }
    this.openInQuotes = inQuotes;
    return false;
  }

  private lineTooLong(line: number): LimitExceededError {
    return new LimitExceededError('lineBytes', this.lineBytes, `line ${line}`);
  }

  private checkCells(fields: readonly CsvField[], line: number): void {
    fields.forEach((field, index) => {
      if (field !== undefined && longerThanBytes(field, this.cellBytes)) {
        throw new LimitExceededError('cellBytes', this.cellBytes, `line ${line}, cell ${index + 1}`);
      }
    });
  }

  /**
   * The line a last record starts on when the text so far ends inside it (no line break after it
   * yet), else undefined. At the end of the input, that record was either written without a final
   * line break or cut short.
   */
  openRecordLine(): number | undefined {
    const rest = this.open.length > 0 ? this.open.join('') : this.pending;
    return rest === '' || rest === '\r' ? undefined : this.line;
  }

  /** Tokenizes the rest at the end of the input; fails if it ends inside a quoted cell. */
  end(onRecord: CsvRecordHandler): boolean {
    if (this.open.length > 0) {
      this.pending = this.open.join('');
      this.open = [];
    }
    return this.scan(this.pending, true, onRecord);
  }

  private scan(input: string, final: boolean, onRecord: CsvRecordHandler): boolean {
    const n = input.length;
    this.scanned += n;
    let i = 0;
    if (this.atStart && n > 0) {
      this.atStart = false;
      if (input.charCodeAt(0) === 0xfeff) i = 1;
    }
    // Kept across lines so that finding the next quote costs one pass over the text, not one per line.
    let nextQuote = -1;
    let paused = false;
    while (i < n && !paused) {
      const lineBreak = input.indexOf('\n', i);
      if (lineBreak < 0 && !final) break;
      const lineEnd = lineBreak < 0 ? n : lineBreak;
      if (nextQuote < i) {
        nextQuote = input.indexOf('"', i);
        if (nextQuote < 0) nextQuote = n;
      }
      if (nextQuote >= lineEnd) {
        const stop = lineEnd > i && input.charCodeAt(lineEnd - 1) === CR ? lineEnd - 1 : lineEnd;
        if (stop > i) {
          const fields: CsvField[] = input.slice(i, stop).split(this.delimiter);
          for (let k = 0; k < fields.length; k += 1) if (fields[k] === '') fields[k] = undefined;
          if (stop - i > this.measureFrom) this.checkRecord(input, i, stop, fields);
          paused = onRecord(fields, this.line) === false;
        }
        this.line += 1;
        i = lineEnd + 1;
        continue;
      }
      const record = this.quotedRecord(input, i, final);
      if (record === undefined) break;
      if (record.next - i > this.measureFrom) this.checkRecord(input, i, record.next, record.fields);
      paused = onRecord(record.fields, this.line) === false;
      this.line += record.lines;
      i = record.next;
    }
    if (i >= n) this.pending = '';
    else if (paused || final) this.pending = input.slice(i);
    else this.keepOpen(input.slice(i));
    return !paused;
  }

  /** Holds the start of a record whose end has not arrived; later text is searched from where it stops. */
  private keepOpen(start: string): void {
    this.pending = '';
    this.open = [start];
    this.openBytes = Buffer.byteLength(start, 'utf8');
    if (this.openBytes > this.lineBytes) throw this.lineTooLong(this.line);
    let quotes = 0;
    for (let at = start.indexOf('"'); at >= 0; at = start.indexOf('"', at + 1)) quotes += 1;
    this.scanned += start.length;
    this.openInQuotes = quotes % 2 === 1;
  }

  /** A record long enough that it might exceed a limit, measured. */
  private checkRecord(input: string, start: number, end: number, fields: readonly CsvField[]): void {
    if (longerThanBytes(input.slice(start, end), this.lineBytes)) throw this.lineTooLong(this.line);
    this.checkCells(fields, this.line);
  }

  /** A record with at least one quote, from `start`; undefined when it continues past the text. */
  private quotedRecord(input: string, start: number, final: boolean): { fields: CsvField[]; next: number; lines: number } | undefined {
    const n = input.length;
    const fields: CsvField[] = [];
    let lines = 1;
    let at = start;
    for (;;) {
      if (at < n && input.charCodeAt(at) === QUOTE) {
        let value = '';
        let from = at + 1;
        for (;;) {
          const close = input.indexOf('"', from);
          if (close < 0 || (close + 1 >= n && !final)) {
            if (final) throw new CsvSyntaxError(`a quoted cell opened here is not closed before the end of the answer`, this.line);
            return undefined;
          }
          value += input.slice(from, close);
          if (input.charCodeAt(close + 1) === QUOTE) {
            value += '"';
            from = close + 2;
            continue;
          }
          at = close + 1;
          break;
        }
        for (let k = value.indexOf('\n'); k >= 0; k = value.indexOf('\n', k + 1)) lines += 1;
        fields.push(value);
        if (at >= n) return { fields, next: at, lines };
        const after = input.charCodeAt(at);
        if (after === this.delimiterCode) {
          at += 1;
          continue;
        }
        if (after === LF) return { fields, next: at + 1, lines };
        if (after === CR) {
          if (at + 1 >= n && !final) return undefined;
          if (at + 1 >= n) return { fields, next: at + 1, lines };
          if (input.charCodeAt(at + 1) === LF) return { fields, next: at + 2, lines };
        }
        throw new CsvSyntaxError(
          `${JSON.stringify(input.charAt(at))} follows the closing quote of cell ${fields.length}; expected ${JSON.stringify(this.delimiter)} or a line break`,
          this.line + lines - 1,
        );
      }
      let end = at;
      for (; end < n; end += 1) {
        const code = input.charCodeAt(end);
        if (code === this.delimiterCode || code === LF) break;
        if (code === QUOTE) {
          throw new CsvSyntaxError(`a quote inside unquoted cell ${fields.length + 1}; quote the whole cell and double the quote`, this.line + lines - 1);
        }
      }
      if (end >= n && !final) return undefined;
      const stop = end < n && input.charCodeAt(end) === LF && end > at && input.charCodeAt(end - 1) === CR ? end - 1 : end;
      fields.push(stop > at ? input.slice(at, stop) : undefined);
      if (end >= n) return { fields, next: end, lines };
      if (input.charCodeAt(end) === LF) return { fields, next: end + 1, lines };
      at = end + 1;
    }
  }
}
