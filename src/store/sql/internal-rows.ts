import type { SqlValue } from '../../core/tables.js';
import { upsert } from './change-applier.js';
import type { DriverRow, EngineSession, SqlConnection, SqlDialect, Target } from './engine.js';
import { asTableSpec, type InternalTable } from './internal-tables.js';

/** Reading and writing the store's own tables through the same primitives as user tables, so no engine writes them its own way. */

export function internalTarget(dialect: SqlDialect, table: InternalTable): Target {
  return { spec: asTableSpec(table), relation: dialect.relation(table.name) };
}

/**
 * Inserts the row, or updates the stored row with its key: only the columns given are written, so
 * the others keep their value (or get their default in a new row).
 */
export function writeRow(session: EngineSession, dialect: SqlDialect, table: InternalTable, row: Readonly<Record<string, SqlValue>>): Promise<number> {
  const columns = Object.keys(row);
  return upsert(session, internalTarget(dialect, table), { columns, rows: [columns.map((column) => row[column])] });
}

/**
 * The row with this key, or undefined. `lock` holds the row until the transaction ends, on
 * engines with row locks, so that what is decided from it (the lease-epoch fence) stays true
 * until the commit.
 */
export async function readRow(conn: SqlConnection, dialect: SqlDialect, table: InternalTable, key: SqlValue, lock = false): Promise<DriverRow | undefined> {
  const { afterTable, atEnd } = lock ? dialect.lockedRead : { afterTable: '', atEnd: '' };
  const keyColumn = asTableSpec(table).columns.find((column) => column.name === table.primaryKey);
  const rows = await conn.all(
    `SELECT * FROM ${dialect.relation(table.name)}${afterTable} WHERE ${dialect.quote(table.primaryKey)} = ${dialect.param(0)}${atEnd}`,
    [{ value: key, type: keyColumn?.type ?? 'text' }],
  );
  return rows[0];
}
