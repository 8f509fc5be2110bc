import type { SqlValue } from '../core/tables.js';
import type { DeliveryShape, RecordRow } from '../store/delivery.js';

/**
 * A record as the Push API takes it: a JSON object of its fields, every field present (null
 * included: a realtime dataset's schema comes from the records pushed first, and a delete by values
 * must send exactly what was pushed). Integers past 2^53 keep their digits; a `json` column is sent
 * as the document it holds, or as its text where the record says so (RPDE's `data`).
 */
export function recordJson(shape: DeliveryShape, row: RecordRow): string {
  const parts = shape.fields.map((field) => `${JSON.stringify(field.name)}:${valueJson(row[field.name] ?? null, field.type === 'json' && !field.asText)}`);
  return `{${parts.join(',')}}`;
}

function valueJson(value: SqlValue, document: boolean): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return document && isJson(value) ? value : JSON.stringify(value);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The record's key, for messages: its key fields' values joined with dots, as SDMX writes a series key. */
export function keyText(shape: DeliveryShape, row: RecordRow): string {
  return shape.key.map((name) => String(row[name] ?? '')).join('.');
}

/** Bodies of at most `maxBytes` (in UTF-8), each a JSON array of records in the order given. */
export interface Batch {
  readonly rows: readonly RecordRow[];
  readonly body: string;
}

/**
 * Groups encoded records into JSON-array bodies smaller than `maxBytes` bytes. A record too big to
 * travel even alone is returned in `oversize` instead, to be reported and set aside.
 */
export function batches(shape: DeliveryShape, rows: readonly RecordRow[], maxBytes: number): { batches: Batch[]; oversize: { row: RecordRow; bytes: number }[] } {
  const out: Batch[] = [];
  const oversize: { row: RecordRow; bytes: number }[] = [];
  let current: { rows: RecordRow[]; parts: string[]; bytes: number } = { rows: [], parts: [], bytes: 2 };
  const close = () => {
    if (current.rows.length > 0) out.push({ rows: current.rows, body: `[${current.parts.join(',')}]` });
    current = { rows: [], parts: [], bytes: 2 };
  };
  for (const row of rows) {
    const json = recordJson(shape, row);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes + 2 >= maxBytes) {
      oversize.push({ row, bytes });
      continue;
    }
    // A comma before every record but the first.
    const added = bytes + (current.rows.length > 0 ? 1 : 0);
    if (current.bytes + added >= maxBytes) close();
    current.bytes += bytes + (current.rows.length > 0 ? 1 : 0);
    current.rows.push(row);
    current.parts.push(json);
  }
  close();
  return { batches: out, oversize };
}
