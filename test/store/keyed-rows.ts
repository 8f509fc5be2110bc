import type { TableSpec } from '../../src/core/tables.js';

/** The table of the SQLite bulk-upsert tests: a text key, a value SQLite refuses when NULL. */
export const spec: TableSpec = {
  name: 'obs',
  columns: [
    { name: 'k', type: 'text' },
    { name: 'v', type: 'text', nullable: false },
  ],
  primaryKey: ['k'],
};

export const key = (i: number): string => `k${String(i).padStart(5, '0')}`;

/** Rows `from` to `to` (excluded) of `spec`, each value `${value}${i}`. */
export const rows = (from: number, to: number, value = 'x'): (string | null)[][] => Array.from({ length: to - from }, (_, i) => [key(from + i), `${value}${from + i}`]);
