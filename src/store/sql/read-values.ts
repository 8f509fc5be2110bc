import type { ColumnType, SqlValue } from '../../core/tables.js';

/**
 * The one reading rule every engine follows for `integer` columns: a number while it is exactly
 * representable, a bigint beyond 2^53. Drivers hand integers back as bigint (better-sqlite3 with
 * safe integers) or as decimal text (pg for int8); both land here.
 */
export function readInteger(value: bigint | number | string): number | bigint {
  if (typeof value === 'number') return value;
  const big = typeof value === 'bigint' ? value : BigInt(value);
  const small = Number(big);
  return Number.isSafeInteger(small) ? small : big;
}

/** A driver's value turned back into what was written, by the column's declared type. */
export function readCell(type: ColumnType, value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'integer':
      if (typeof value === 'number') return value;
      if (typeof value === 'bigint') return readInteger(value);
      return /^-?\d+$/.test(asText(value)) ? readInteger(asText(value)) : asText(value);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'bigint' || typeof value === 'number') return Number(value) !== 0;
      return ['true', '1', 't'].includes(asText(value));
    case 'real':
      if (typeof value === 'number') return value;
      if (typeof value === 'bigint') return Number(value);
      return Number(asText(value));
    case 'text':
    case 'json':
    case 'timestamp':
      return asText(value);
  }
}

/**
 * A driver's scalar as text: strings as they are, numbers and booleans in their usual spelling,
 * anything structured (a driver that parsed JSON itself) as JSON.
 */
export function asText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    default:
      return JSON.stringify(value) ?? '';
  }
}
