import type { Cell, ColumnSpec, SqlValue } from '../../core/tables.js';
import { changedSql } from '../sql/changed-sql.js';
import type { EngineSession, KeySet, UpsertBatch } from '../sql/engine.js';
import { quoteIdent } from '../sql/quote.js';
import { uniqueKeyChunks } from '../sql/unique-key-chunks.js';
import { isBound, whereClause } from '../sql/where-sql.js';
import { PostgresConnection, toPg } from './postgres-connection.js';
import { POSTGRES_TYPES, postgresDistinct } from './postgres-dialect.js';

/**
 * Rows per INSERT ... SELECT FROM unnest(...): each column travels as one array parameter, so a
 * statement costs one round trip whatever its size; past a few thousand rows the arrays only
 * grow the memory held at once.
 */
const ROWS_PER_STATEMENT = 5000;

/**
 * PostgreSQL's writes on a transaction's connection, set-based: rows and keys travel as typed
 * arrays unnested into a relation, so a batch of thousands of rows or keys is one statement and
 * one round trip.
 */
export class PostgresSession extends PostgresConnection implements EngineSession {
  /** INSERT ... SELECT FROM unnest(...) ON CONFLICT: omitted columns are simply not in the statement. */
  async upsert(batch: UpsertBatch): Promise<number> {
    const { spec, relation } = batch.target;
    const arrays = batch.columns.map((column, index) => `$${index + 1}::${POSTGRES_TYPES[column.type]}[]`).join(', ');
    const names = batch.columns.map((column) => column.name);
    const key = spec.primaryKey.map((name) => quoteIdent(name)).join(', ');
    const updates = names.filter((name) => !spec.primaryKey.includes(name)).map((name) => `${quoteIdent(name)} = EXCLUDED.${quoteIdent(name)}`);
    const valueColumns = batch.columns.filter((column) => !spec.primaryKey.includes(column.name));
    let sql = `INSERT INTO ${relation} AS "cur" (${names.map((name) => quoteIdent(name)).join(', ')}) SELECT * FROM unnest(${arrays})`;
    if (batch.onlyChanged && valueColumns.length > 0) {
      // Rows equal to the stored ones are left out before the INSERT: ON CONFLICT ... WHERE false
      // would still lock (and so write) each stored row it skips.
      const match = spec.primaryKey.map((name) => `"old".${quoteIdent(name)} = "s".${quoteIdent(name)}`).join(' AND ');
      sql += ` AS "s" (${names.map((name) => quoteIdent(name)).join(', ')}) WHERE NOT EXISTS (SELECT 1 FROM ${relation} AS "old" WHERE ${match} AND NOT ${changedSql(quoteIdent, postgresDistinct, valueColumns, '"old"', '"s"')})`;
    }
    if (batch.append) {
      // A staging heap: no conflict to handle.
    } else if (updates.length === 0) sql += ` ON CONFLICT (${key}) DO NOTHING`;
    else {
      sql += ` ON CONFLICT (${key}) DO UPDATE SET ${updates.join(', ')}`;
      const guards: string[] = [];
      if (batch.unlessStoredNewer !== undefined) {
        const column = quoteIdent(batch.unlessStoredNewer);
        guards.push(`("cur".${column} IS NULL OR EXCLUDED.${column} >= "cur".${column})`);
      }
      if (batch.onlyChanged) guards.push(changedSql(quoteIdent, postgresDistinct, valueColumns, '"cur"', 'EXCLUDED'));
      if (guards.length > 0) sql += ` WHERE ${guards.join(' AND ')}`;
    }
    let written = 0;
    for (const chunk of uniqueKeyChunks(batch.rows, batch.keyPositions, ROWS_PER_STATEMENT)) {
      const values = batch.positions.map((position, index) => {
        const { type } = batch.columns[index] as ColumnSpec;
        return chunk.map((row) => toPg(row[position] as SqlValue, type));
      });
      try {
        written += (await this.query(sql, values)).rowCount ?? 0;
      } catch (error) {
        if (this.loss?.error) throw error;
        const first = batch.rowIndex(chunk[0] as readonly Cell[]);
        throw new Error(`table ${spec.name}: upsert of ${chunk.length} rows from row ${first} was refused: ${describePgError(error)}`, { cause: error });
      }
    }
    return written;
  }

  async deleteKeys(set: KeySet): Promise<number> {
    const match = keyMatch(set);
    const using = match.using ? ` USING ${match.using}` : '';
    return (await this.query(`DELETE FROM ${set.target.relation} AS "cur"${using}${match.where}`, match.values)).rowCount ?? 0;
  }

  async setNullKeys(set: KeySet, columns: readonly string[]): Promise<number> {
    const assignments = columns.map((name) => `${quoteIdent(name)} = NULL`).join(', ');
    const match = keyMatch(set);
    const from = match.using ? ` FROM ${match.using}` : '';
    return (await this.query(`UPDATE ${set.target.relation} AS "cur" SET ${assignments}${from}${match.where}`, match.values)).rowCount ?? 0;
  }

  /** Two daemons creating or rebuilding one table take turns instead of failing on each other's DDL. */
  async lockName(name: string): Promise<void> {
    await this.query("SELECT pg_advisory_xact_lock(hashtextextended('dataspace-sync:relation:' || $1 || '.' || $2, 0))", [this.schema, name]);
  }
}

/**
 * Matches "cur" against every key of the set at once: the keys travel as typed arrays unnested
 * into a relation "k" (column c<i> for the key's i-th bound test), so a thousand deletes are one
 * statement and one round trip.
 */
function keyMatch(set: KeySet): { using: string | undefined; where: string; values: unknown[] } {
  const bound = set.columns.filter((column) => isBound(column.test));
  let position = 0;
  const where = whereClause([
    ...set.columns.map((column) => `"cur".${quoteIdent(column.name)} ${column.test}${isBound(column.test) ? ` "k"."c${position++}"` : ''}`),
    ...set.allNull.map((name) => `"cur".${quoteIdent(name)} IS NULL`),
  ]);
  if (bound.length === 0) return { using: undefined, where, values: [] };
  const values = bound.map((column, position) => set.keys.map((key) => toPg(key[position] as SqlValue, column.type)));
  const arrays = bound.map((column, index) => `$${index + 1}::${POSTGRES_TYPES[column.type]}[]`).join(', ');
  const aliases = bound.map((_, index) => `"c${index}"`);
  return { using: `unnest(${arrays}) AS "k"(${aliases.join(', ')})`, where, values };
}

function describePgError(error: unknown): string {
  const pgError = error as { message?: string; detail?: string; column?: string };
  return [pgError.message ?? String(error), pgError.detail ? `(${pgError.detail})` : '', pgError.column ? `[column ${pgError.column}]` : ''].filter(Boolean).join(' ');
}
