import type { Cell } from '../../core/tables.js';
import type { EngineSession, KeySet, UpsertBatch } from '../sql/engine.js';
import { quoteIdent } from '../sql/quote.js';
import { keyConditions, whereClause } from '../sql/where-sql.js';
import { SqliteConnection, sqliteValue } from './sqlite-connection.js';
import type { UpsertStatements } from './sqlite-handle.js';
import { sqliteDialect } from './sqlite-dialect.js';

/**
 * Bound parameters per multi-row INSERT. Binding dominates the cost of an upsert in
 * better-sqlite3, and one statement carrying a few dozen rows halves the per-row overhead; past a
 * few hundred parameters the gain turns into loss (bench/store-upsert.ts).
 */
const PARAMETERS_PER_STATEMENT = 160;

/**
 * SQLite's writes on its one writing connection, inside the transaction the store opened: upserts
 * through prepared multi-row INSERT ... ON CONFLICT statements (the hot path of a full load: the
 * rows go to the writer thread in one packed batch, see sqlite-writer-thread.ts), deletes and
 * updates one key at a time (each is a cheap call on the connection, so set-based tricks buy
 * nothing).
 */
export class SqliteSession extends SqliteConnection implements EngineSession {
  upsert(batch: UpsertBatch): number {
    const width = batch.columns.length;
    const perStatement = Math.max(1, Math.floor(PARAMETERS_PER_STATEMENT / width));
    const { rows, positions } = batch;
    const statements: UpsertStatements = {
      many: rows.length >= perStatement ? upsertSql(batch, perStatement) : undefined,
      one: upsertSql(batch, 1),
      perStatement,
      width,
    };
    // DO UPDATE without a guard writes every row, inserted or updated: the count is known, and the
    // writer thread may do the work while this thread goes on.
    const counted = batch.unlessStoredNewer === undefined && batch.columns.some((column) => !batch.target.spec.primaryKey.includes(column.name));
    const failure = (index: number, cause: Error): Error => {
      const row = rows[index] as readonly Cell[];
      const key = batch.target.spec.primaryKey.map((name, k) => `${name}=${JSON.stringify(String(row[batch.keyPositions[k] as number]))}`).join(', ');
      return new Error(`table ${batch.target.spec.name}: upsert row ${batch.rowIndex(row)} (${key}) was refused: ${cause.message}`, { cause });
    };
    return this.db.upsert(statements, rows, positions, counted, failure) ?? rows.length;
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
  let sql = `INSERT INTO ${table} (${columns.map((name) => quoteIdent(name)).join(', ')}) VALUES ${values} ON CONFLICT (${key}) `;
  if (updates.length === 0) return `${sql}DO NOTHING`;
  sql += `DO UPDATE SET ${updates.join(', ')}`;
  if (batch.unlessStoredNewer !== undefined) {
    const column = quoteIdent(batch.unlessStoredNewer);
    sql += ` WHERE ${table}.${column} IS NULL OR excluded.${column} >= ${table}.${column}`;
  }
  return sql;
}
