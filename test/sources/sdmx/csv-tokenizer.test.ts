import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LimitExceededError } from '../../../src/core/limits.js';
import { CsvSyntaxError, CsvTokenizer, type CsvField } from '../../../src/sources/sdmx/csv-tokenizer.js';

interface Tokenized {
  readonly fields: CsvField[];
  readonly line: number;
}

/** Tokenizes `text` fed in pieces cut at `cuts` (positions), the way a body arrives in chunks. */
function tokenize(text: string, delimiter: string, cuts: readonly number[] = []): Tokenized[] {
  const out: Tokenized[] = [];
  const tokenizer = new CsvTokenizer(delimiter);
  const onRecord = (fields: CsvField[], line: number): void => {
    out.push({ fields, line });
  };
  let from = 0;
  for (const cut of [...new Set(cuts)].filter((at) => at > 0 && at < text.length).sort((a, b) => a - b)) {
    tokenizer.push(text.slice(from, cut), onRecord);
    from = cut;
  }
  tokenizer.push(text.slice(from), onRecord);
  tokenizer.end(onRecord);
  return out;
}

/** A cell as a generator wrote it: its value and whether it was quoted. */
interface Cell {
  readonly value: string;
  readonly quoted: boolean;
}

const cellText = fc.array(fc.constantFrom('a', 'B', '1', ' ', ';', ',', '"', '\n', '\r\n', 'é', '\\'), { maxLength: 6 }).map((parts) => parts.join(''));

function cellOf(delimiter: string): fc.Arbitrary<Cell> {
  return fc.tuple(cellText, fc.boolean()).map(([value, quote]) => ({
    value,
    // A cell with a delimiter, a quote or a line break must be quoted; others may be.
    quoted: quote || value.includes(delimiter) || value.includes('"') || value.includes('\n') || value.includes('\r'),
  }));
}

function write(records: readonly (readonly Cell[])[], delimiter: string, lineBreak: string, trailingBreak: boolean): string {
  const text = records
    .map((cells) => cells.map((cell) => (cell.quoted ? `"${cell.value.replaceAll('"', '""')}"` : cell.value)).join(delimiter))
    .join(lineBreak);
  return trailingBreak ? text + lineBreak : text;
}

describe('CsvTokenizer', () => {
  it('reads what csv-parse reads, tells quoted empty cells from omitted ones and numbers lines, however the text is cut', () => {
    const message = fc.constantFrom(',', ';', '\t').chain((delimiter) =>
      fc.record({
        delimiter: fc.constant(delimiter),
        // Two cells at least: a record of one unquoted empty cell is an empty line, which is skipped.
        records: fc.array(fc.array(cellOf(delimiter), { minLength: 2, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
        lineBreak: fc.constantFrom('\n', '\r\n'),
        trailingBreak: fc.boolean(),
        cuts: fc.array(fc.nat(400), { maxLength: 6 }),
      }),
    );
    fc.assert(
      fc.property(message, ({ delimiter, records, lineBreak, trailingBreak, cuts }) => {
        const text = write(records, delimiter, lineBreak, trailingBreak);
        const ours = tokenize(text, delimiter, cuts);
        const reference: string[][] = parse(text, { delimiter, relax_column_count: true, skip_empty_lines: true });
        expect(ours.map((record) => record.fields.map((field) => field ?? ''))).toEqual(reference);
        expect(ours.map((record) => record.fields.map((field) => field !== undefined))).toEqual(
          records.map((cells) => cells.map((cell) => cell.quoted || cell.value !== '')),
        );
        let line = 1;
        const lines = records.map((cells) => {
          const start = line;
          line += 1 + cells.reduce((sum, cell) => sum + cell.value.split('\n').length - 1, 0);
          return start;
        });
        expect(ours.map((record) => record.line)).toEqual(lines);
      }),
      { numRuns: 500 },
    );
  });

  it('skips empty lines, drops a BOM and keeps counting lines past them', () => {
    expect(tokenize('\uFEFFa,b\n\n\r\nc,"d\ne"\n\nf,g', ',', [1, 5, 9])).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { fields: ['c', 'd\ne'], line: 4 },
      { fields: ['f', 'g'], line: 7 },
    ]);
  });

  it('pauses after a record whose handler returns false and goes on from there', () => {
    const tokenizer = new CsvTokenizer(',');
    const seen: CsvField[][] = [];
    expect(tokenizer.push('h1,h2\nx,1\ny,2\n', (fields) => (seen.push(fields), false))).toBe(false);
    expect(seen).toEqual([['h1', 'h2']]);
    tokenizer.push('z,3\n', (fields) => void seen.push(fields));
    expect(seen).toEqual([['h1', 'h2'], ['x', '1'], ['y', '2'], ['z', '3']]);
  });

  it.each([
    ['a quoted cell left open at the end', 'a,b\nc,"d\ne', /line 2: a quoted cell opened here is not closed/],
    ['text after a closing quote', 'a,b\nc,"d"x\n', /line 2: "x" follows the closing quote of cell 2/],
    ['a quote inside an unquoted cell', 'a,b\nc,d"e\n', /line 2: a quote inside unquoted cell 2/],
  ])('fails on %s, naming the line', (_name, text, message) => {
    expect(() => tokenize(text, ',')).toThrow(CsvSyntaxError);
    expect(() => tokenize(text, ',')).toThrow(message);
  });
});

describe('CsvTokenizer on long lines', () => {
  /** Feeds `text` in pieces of `size` characters and returns the tokenizer and the records read. */
  function feed(text: string, size: number, limits = {}): { tokenizer: CsvTokenizer; records: CsvField[][] } {
    const tokenizer = new CsvTokenizer(',', limits);
    const records: CsvField[][] = [];
    const onRecord = (fields: CsvField[]): void => {
      records.push(fields);
    };
    for (let at = 0; at < text.length; at += size) tokenizer.push(text.slice(at, at + size), onRecord);
    tokenizer.end(onRecord);
    return { tokenizer, records };
  }

  it('examines a line delivered in many chunks a small constant number of times, not once per chunk', () => {
    const long = 'x'.repeat(1_000_000);
    const text = `a,b\n1,${long}\n2,3\n`;
    const { tokenizer, records } = feed(text, 100);
    expect(records).toEqual([['a', 'b'], ['1', long], ['2', '3']]);
    // Re-scanning what is pending with each of the 10,000 chunks would examine ~5e9 characters.
    expect(tokenizer.charsScanned).toBeLessThan(4 * text.length);
  });

  it('stays linear on a long quoted cell full of quotes and line breaks', () => {
    const cell = 'x\n""y'.repeat(100_000);
    const text = `a,"${cell}"\nb,c\n`;
    const { tokenizer, records } = feed(text, 97);
    expect(records).toEqual([['a', cell.replaceAll('""', '"')], ['b', 'c']]);
    expect(tokenizer.charsScanned).toBeLessThan(4 * text.length);
  });

  it('refuses a line longer than lineBytes as soon as that much of it is held, before it ends', () => {
    const tokenizer = new CsvTokenizer(',', { lineBytes: 10_000 });
    const onRecord = (): void => undefined;
    tokenizer.push('a,b\n', onRecord);
    let pushed = 0;
    const failure = (() => {
      try {
        for (; pushed < 1_000; pushed += 1) tokenizer.push('y'.repeat(1000), onRecord);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(LimitExceededError);
    expect((failure as LimitExceededError).key).toBe('lineBytes');
    expect((failure as Error).message).toMatch(/^line 2 exceeds limits\.lineBytes \(10,000 bytes\)/);
    expect(pushed).toBe(10);
  });

  it('counts a line in UTF-8 bytes, not characters, and refuses one whole in a chunk too', () => {
    expect(() => feed(`a,b\n${'é'.repeat(600)},x\n`, 1 << 20, { lineBytes: 1000 })).toThrow(/^line 2 exceeds limits\.lineBytes/);
    expect(feed(`a,b\n${'é'.repeat(400)},x\n`, 1 << 20, { lineBytes: 1000 }).records).toHaveLength(2);
  });

  it('refuses a cell longer than cellBytes, naming its line and position, quoted or not', () => {
    expect(() => feed(`a,b\n1,${'z'.repeat(2000)}\n`, 1 << 20, { cellBytes: 1000 })).toThrow(/^line 2, cell 2 exceeds limits\.cellBytes/);
    expect(() => feed(`a,b\n1,2\n"${'z'.repeat(2000)}",3\n`, 64, { cellBytes: 1000 })).toThrow(/^line 3, cell 1 exceeds limits\.cellBytes/);
    expect(feed(`a,b\n1,${'z'.repeat(900)}\n`, 64, { cellBytes: 1000 }).records).toHaveLength(2);
  });
});
