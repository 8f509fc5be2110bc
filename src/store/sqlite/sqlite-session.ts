import type { Cell } from '../../core/tables.js';
import { changedSql } from '../sql/changed-sql.js';
import type { EngineSession, KeySet, UpsertBatch } from '../sql/engine.js';
import { quoteIdent } from '../sql/quote.js';
import { keyConditions, whereClause } from '../sql/where-sql.js';
import { SqliteConnection, sqliteValue } from './sqlite-connection.js';
import { sqliteDialect, sqliteDistinct } from './sqlite-dialect.js';
import type { UpsertFailure, UpsertStatements } from './sqlite-handle.js';

/**
 * Bound parameters per multi-row INSERT. Binding dominates the cost of an upsert in
 * better-sqlite3, and one statement carrying a few dozen rows halves the per-row overhead; past a
 * few hundred parameters the gain turns into loss (bench/store-upsert.ts).
 */
const PARAMETERS_PER_STATEMENT = 160;

/**
 * SQLite's writes on its one writing connection, inside the transaction the store opened: upserts
 * through prepared multi-row INSERT ... ON CONFLICT statements (the hot path of a full load),
 * deletes and updates one key at a time (each is a cheap call on the connection, so set-based
 * tricks buy nothing).
 */
export class SqliteSession extends SqliteConnection implements EngineSession {
  upsert(batch: UpsertBatch): number {
    const width = batch.columns.length;
    const perStatement = Math.max(1, Math.floor(PARAMETERS_PER_STATEMENT / width));
    const { rows, positions } = batch;
    const statements: UpsertStatements = {
      many: upsertSql(batch, perStatement),
      rest: (count) => upsertSql(batch, count),
      one: upsertSql(batch, 1),
      perStatement,
      width,
    };
    return this.db.upsert(statements, rows, positions, writesEveryRow(batch), refusal(batch));
  }

  deleteKeys(set: KeySet): number {
    const sql = `DELETE FROM ${set.target.relation}${whereClause(keyConditions(sqliteDialect, set))}`;
    return this.eachKey(sql, set);
  }

  setNullKeys(set: KeySet, columns: readonly string[]): number {
    const assignments = columns.map((name) => `${quoteIdent(name)} = NULL`).join(', ');
    return this.eachKey(`UPDATE ${set.target.relation} SET ${assignments}${whereClause(keyConditions(sqliteDialect, set))}`, set);
  }

  /** One writer: nobody else runs DDL meanwhile. */
  lockName(): void {}

  private eachKey(sql: string, set: KeySet): number {
    let changed = 0;
    for (const key of set.keys) changed += this.db.run(sql, key.map(sqliteValue));
    return changed;
  }
}

/**
 * The error for the row a bulk upsert refused, named by its index in the operation and its key
 * (from the cells it bound). It keeps the batch's rows only where their index must be looked up
 * (rows that omit cells, grouped apart): a failure kept for rows handed to the writer thread must
 * not keep them alive, or they outlive the young generation and every collection gets slower.
 */
function refusal(batch: UpsertBatch): UpsertFailure {
  const { rows } = batch;
  const keyCells = batch.keyPositions.map((position) => batch.positions.indexOf(position));
  const last = rows.length - 1;
  const inOrder = last < 0 || (batch.rowIndex(rows[0] as readonly Cell[]) === 0 && batch.rowIndex(rows[last] as readonly Cell[]) === last);
  // Rows of a group keep their order: spanning the operation's first to its last index, they are all of it.
  return refusedRow(batch.target.spec.name, batch.target.spec.primaryKey, keyCells, inOrder ? undefined : (index) => batch.rowIndex(rows[index] as readonly Cell[]));
}

function refusedRow(table: string, keys: readonly string[], keyCells: readonly number[], indexOf: ((index: number) => number) | undefined): UpsertFailure {
  return (index, cells, cause) => {
    const key = keys.map((name, k) => `${name}=${JSON.stringify(String(cells[keyCells[k] as number]))}`).join(', ');
    return new Error(`table ${table}: upsert row ${indexOf === undefined ? index : indexOf(index)} (${key}) was refused: ${cause.message}`, { cause });
  };
}

/**
 * Whether each row is written, so the count is known without asking SQLite: a plain INSERT, or an
 * update without a guard (DO NOTHING and the guards skip rows).
 */
function writesEveryRow(batch: UpsertBatch): boolean {
  if (batch.append) return true;
  const { primaryKey } = batch.target.spec;
  return batch.unlessStoredNewer === undefined && !batch.onlyChanged && batch.columns.some((column) => !primaryKey.includes(column.name));
}

/**
 * INSERT ... ON CONFLICT DO UPDATE for the given columns only, so omitted cells keep their stored
 * value. "Newer wins" adds a guard on the stored row; a stored NULL stamp never blocks an update.
 * SQLite compares INTEGER with INTEGER numerically and TEXT with TEXT byte-wise, which is the
 * type-aware comparison the op asks for as long as each column holds one type.
 */
function upsertSql(batch: UpsertBatch, rowCount: number): string {
  const { spec, relation: table } = batch.target;
  const columns = batch.columns.map((column) => column.name);
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  const values = rowCount === 1 ? tuple : new Array<string>(rowCount).fill(tuple).join(', ');
  const key = spec.primaryKey.map((name) => quoteIdent(name)).join(', ');
  const updates = columns.filter((name) => !spec.primaryKey.includes(name)).map((name) => `${quoteIdent(name)} = excluded.${quoteIdent(name)}`);
  const insert = `INSERT INTO ${table} (${columns.map((name) => quoteIdent(name)).join(', ')}) VALUES ${values}`;
  if (batch.append) return insert;
  const sql = `${insert} ON CONFLICT (${key}) `;
  if (updates.length === 0) return `${sql}DO NOTHING`;
  const guards: string[] = [];
  if (batch.unlessStoredNewer !== undefined) {
    const column = quoteIdent(batch.unlessStoredNewer);
    guards.push(`(${table}.${column} IS NULL OR excluded.${column} >= ${table}.${column})`);
  }
  if (batch.onlyChanged) guards.push(changedSql(quoteIdent, sqliteDistinct, batch.columns.filter((column) => !spec.primaryKey.includes(column.name)), table, 'excluded'));
  return `${sql}DO UPDATE SET ${updates.join(', ')}${guards.length > 0 ? ` WHERE ${guards.join(' AND ')}` : ''}`;
}
