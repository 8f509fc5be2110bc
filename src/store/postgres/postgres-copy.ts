import type { Cell, ColumnSpec, SqlValue } from '../../core/tables.js';
import { toPg } from './postgres-connection.js';

/** What COPY's text format escapes: its delimiter (tab), line ends and its escape character. */
const SPECIAL = /[\\\t\n\r]/g;
const ESCAPED: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * Rows as the text of `COPY ... FROM STDIN` (PostgreSQL's text format): one line per row, cells
 * separated by tabs in the order of `columns`, `\N` for NULL. `positions` says where each column's
 * cell is in a row. Values are those the unnest path would bind (toPg), spelt as PostgreSQL reads
 * them back: booleans `t`/`f`, numbers in JavaScript's shortest round-trip form, text escaped.
 */
export function copyText(rows: readonly (readonly Cell[])[], positions: readonly number[], columns: readonly ColumnSpec[]): string {
  let text = '';
  for (const row of rows) {
    for (let index = 0; index < positions.length; index += 1) {
      if (index > 0) text += '\t';
      text += copyCell(toPg(row[positions[index] as number] as SqlValue, (columns[index] as ColumnSpec).type) as Bindable);
    }
    text += '\n';
  }
  return text;
}

/** What toPg makes of a value: bigints become decimal text. */
type Bindable = string | number | boolean | null;

function copyCell(value: Bindable): string {
  if (value === null) return '\\N';
  if (typeof value === 'string') return value.replace(SPECIAL, (special) => ESCAPED[special] as string);
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return String(value);
}
