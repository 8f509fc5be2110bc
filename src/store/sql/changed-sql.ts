import type { ColumnSpec, ColumnType } from '../../core/tables.js';

/** `a` differs from `b`, where NULL equals NULL (values of a column of `type`): an engine's spelling. */
export type DistinctSql = (a: string, b: string, type: ColumnType) => string;

/**
 * `(stored.c1 differs from incoming.c1 OR ...)`: the test that keeps an upsert or an applyStaged
 * from writing a row equal to the stored one, so that unchanged rows cause no writes at all.
 * `stored` and `incoming` name the two rows (`"cur"`, `excluded`, a staging alias); `quote` is the
 * engine's identifier quoting.
 */
export function changedSql(quote: (name: string) => string, distinct: DistinctSql, columns: readonly ColumnSpec[], stored: string, incoming: string): string {
  return `(${columns.map((column) => distinct(`${stored}.${quote(column.name)}`, `${incoming}.${quote(column.name)}`, column.type)).join(' OR ')})`;
}
