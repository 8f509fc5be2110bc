/**
 * The simulator's own RFC 4180 reader and writer, kept apart from the client's reader on purpose:
 * the two implementations cross-check each other. A cell is `undefined` when it is an unquoted
 * empty cell (SDMX "omitted") and a string otherwise, so `""` (a present empty string) survives.
 */

export type CsvCell = string | undefined;

export class CsvSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsvSyntaxError';
  }
}

/** Parses a whole (small) text; uploads are test-sized, responses are what must stream. */
export function parseCsv(text: string, delimiter: string): CsvCell[][] {
  const rows: CsvCell[][] = [];
  let row: CsvCell[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  let atRowStart = true;
  while (i < n) {
    const ch = text[i];
    if (atRowStart && (ch === '\n' || ch === '\r')) {
      // Blank lines carry nothing; skipping them keeps a trailing newline harmless.
      if (ch === '\r' && text[i + 1] === '\n') i += 1;
      i += 1;
      line += 1;
      continue;
    }
    atRowStart = false;
    let cell: CsvCell;
    if (ch === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) throw new CsvSyntaxError(`line ${line}: a quoted cell is not closed`);
        value += text.slice(j, q);
        for (let k = j; k < q; k += 1) if (text[k] === '\n') line += 1;
        if (text[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      const next = text[i];
      if (i < n && next !== delimiter && next !== '\n' && next !== '\r') {
        throw new CsvSyntaxError(`line ${line}: unexpected text after a closing quote`);
      }
      cell = value;
    } else {
      let j = i;
      while (j < n) {
        const c = text[j];
        if (c === delimiter || c === '\n' || c === '\r') break;
        if (c === '"') throw new CsvSyntaxError(`line ${line}: a quote inside an unquoted cell`);
        j += 1;
      }
      cell = j === i ? undefined : text.slice(i, j);
      i = j;
    }
    row.push(cell);
    const sep = text[i];
    if (sep === delimiter) {
      i += 1;
      if (i === n) row.push(undefined);
      continue;
    }
    rows.push(row);
    row = [];
    atRowStart = true;
    if (sep === '\r' && text[i + 1] === '\n') i += 1;
    i += 1;
    line += 1;
  }
  if (!atRowStart) rows.push(row);
  return rows;
}

/** One cell as it must appear in a message: omitted -> nothing, empty string -> `""`. */
export function csvCell(value: CsvCell, delimiter = ','): string {
  if (value === undefined) return '';
  const n = value.length;
  if (n === 0) return '""';
  const d = delimiter.charCodeAt(0);
  // A character loop: this runs for every cell of a million-row answer.
  for (let i = 0; i < n; i += 1) {
    const c = value.charCodeAt(i);
    if (c === d || c === 34 || c === 10 || c === 13) return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}
