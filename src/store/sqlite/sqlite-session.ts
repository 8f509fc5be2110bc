import type { Cell } from '../../core/tables.js';
import { changedSql } from '../sql/changed-sql.js';
import type { EngineSession, KeySet, UpsertBatch } from '../sql/engine.js';
import { quoteIdent } from '../sql/quote.js';
import { keyConditions, whereClause } from '../sql/where-sql.js';
import { SqliteConnection, sqliteValue } from './sqlite-connection.js';
import { sqliteDialect, sqliteDistinct } from './sqlite-dialect.js';

/**
 * Bound parameters per multi-row INSERT. Binding dominates the cost of an upsert in
 * better-sqlite3, and one statement carrying a few dozen rows halves the per-row overhead; past a
 * few hundred parameters the gain turns into loss (bench/store-upsert.ts).
 */
const PARAMETERS_PER_STATEMENT = 160;

/**
 * SQLite's writes on its one writing connection, inside the transaction the store opened: upserts
 * through prepared multi-row INSERT ... ON CONFLICT statements (the hot path of a full load: a
 * synchronous loop, no await between statements), deletes and updates one key at a time (each
 * is a cheap in-process call here, so set-based tricks buy nothing).
 */
export class SqliteSession extends SqliteConnection implements EngineSession {
  upsert(batch: UpsertBatch): number {
    const width = batch.columns.length;
    const perStatement = Math.max(1, Math.floor(PARAMETERS_PER_STATEMENT / width));
    const { rows, positions } = batch;
    let written = 0;
    let start = 0;
    if (rows.length >= perStatement) {
      const many = this.statement(upsertSql(batch, perStatement));
      const params: Cell[] = new Array<Cell>(perStatement * width);
      for (; start + perStatement <= rows.length; start += perStatement) {
        let n = 0;
        for (let r = start; r < start + perStatement; r++) {
          const row = rows[r] as readonly Cell[];
          for (let c = 0; c < width; c++) {
            // sqliteValue, inlined: this loop runs once per cell of a full load.
            const cell = row[positions[c] as number];
            params[n++] = typeof cell === 'boolean' ? (cell ? 1 : 0) : cell;
          }
        }
        try {
          written += many.run(params).changes;
        } catch (error) {
          // The failed statement left no trace; replay its rows one by one to name the bad one (this throws).
          this.upsertRows(batch, start, start + perStatement, error as Error);
          throw error;
        }
      }
    }
    written += this.upsertRows(batch, start, rows.length, undefined);
    return written;
  }

  private upsertRows(batch: UpsertBatch, from: number, to: number, batchError: Error | undefined): number {
    if (from >= to) return 0;
    const { rows, positions, target } = batch;
    const one = this.statement(upsertSql(batch, 1));
    const params: Cell[] = new Array<Cell>(positions.length);
    let written = 0;
    for (let r = from; r < to; r++) {
      const row = rows[r] as readonly Cell[];
      for (let c = 0; c < positions.length; c++) params[c] = sqliteValue(row[positions[c] as number]);
      try {
        written += one.run(params).changes;
      } catch (error) {
        const key = target.spec.primaryKey.map((name, index) => `${name}=${JSON.stringify(String(row[batch.keyPositions[index] as number]))}`).join(', ');
        throw new Error(`table ${target.spec.name}: upsert row ${batch.rowIndex(row)} (${key}) was refused: ${(error as Error).message}`, { cause: error });
      }
    }
    if (batchError !== undefined) throw batchError;
    return written;
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
    const statement = this.statement(sql);
    let changed = 0;
    for (const key of set.keys) changed += statement.run(key.map(sqliteValue)).changes;
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
  const insert = `INSERT INTO ${table} (${columns.map((name) => quoteIdent(name)).join(', ')}) VALUES ${values}`;
  if (batch.append) return insert;
  const sql = `${insert} ON CONFLICT (${key}) `;
  if (updates.length === 0) return `${sql}DO NOTHING`;
  const guards: string[] = [];
  if (batch.unlessStoredNewer !== undefined) {
    const column = quoteIdent(batch.unlessStoredNewer);
    guards.push(`(${table}.${column} IS NULL OR excluded.${column} >= ${table}.${column})`);
  }
  if (batch.onlyChanged) guards.push(changedSql(sqliteDistinct, batch.columns.filter((column) => !spec.primaryKey.includes(column.name)), table, 'excluded'));
  return `${sql}DO UPDATE SET ${updates.join(', ')}${guards.length > 0 ? ` WHERE ${guards.join(' AND ')}` : ''}`;
}
