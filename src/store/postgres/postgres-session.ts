import type { Cell, ColumnSpec, SqlValue } from '../../core/tables.js';
import { changedSql } from '../sql/changed-sql.js';
import type { EngineSession, KeySet, UpsertBatch } from '../sql/engine.js';
import { quoteIdent } from '../sql/quote.js';
import { uniqueKeyChunks } from '../sql/unique-key-chunks.js';
import { isBound, whereClause } from '../sql/where-sql.js';
import { PostgresConnection, toPg } from './postgres-connection.js';
import { copyText } from './postgres-copy.js';
import { POSTGRES_TYPES, postgresDistinct } from './postgres-dialect.js';

/**
 * Rows per INSERT ... SELECT FROM unnest(...): each column travels as one array parameter, so a
 * statement costs one round trip whatever its size; past a few thousand rows the arrays only
 * grow the memory held at once.
 */
const ROWS_PER_STATEMENT = 5000;

/**
 * From this many rows an upsert goes through COPY: the rows travel as COPY text into a temporary
 * table and one set-based INSERT ... SELECT ... ON CONFLICT moves them into the table. Building
 * COPY text is a string concatenation, where pg's array parameters escape every element in
 * JavaScript and the server parses them again. But COPY, the INSERT and emptying the temporary
 * table are four round trips where unnest is one: for the 1000-row batches a source usually
 * hands over (an SDMX answer), unnest measured as fast or faster (BENCHMARKS.md), so COPY is
 * kept for the large ones.
 */
const COPY_FROM_ROWS = 5000;

/** Rows per COPY: the text of one is held in memory at once. */
const ROWS_PER_COPY = 50_000;

/**
 * PostgreSQL's writes on a transaction's connection, set-based: small batches as typed arrays
 * unnested into a relation (one statement, one round trip), large ones through COPY into a
 * temporary table (postgres-copy.ts), so that thousands of rows or keys are one statement.
 */
export class PostgresSession extends PostgresConnection implements EngineSession {
  /** The temporary tables COPY fills, one per shape of batch, kept (and emptied) until the transaction ends. */
  private readonly copyTables = new Map<string, string>();

  async upsert(batch: UpsertBatch): Promise<number> {
    const { spec, relation } = batch.target;
    const names = batch.columns.map((column) => quoteIdent(column.name)).join(', ');
    const key = spec.primaryKey.map((name) => quoteIdent(name)).join(', ');
    const updates = batch.columns
      .filter((column) => !spec.primaryKey.includes(column.name))
      .map((column) => `${quoteIdent(column.name)} = EXCLUDED.${quoteIdent(column.name)}`);
    const valueColumns = batch.columns.filter((column) => !spec.primaryKey.includes(column.name));
    let unchangedLeftOut = '';
    if (batch.onlyChanged && valueColumns.length > 0) {
      // Rows equal to the stored ones are left out before the INSERT: ON CONFLICT ... WHERE false
      // would still lock (and so write) each stored row it skips.
      const match = spec.primaryKey.map((name) => `"old".${quoteIdent(name)} = "s".${quoteIdent(name)}`).join(' AND ');
      unchangedLeftOut = ` WHERE NOT EXISTS (SELECT 1 FROM ${relation} AS "old" WHERE ${match} AND NOT ${changedSql(quoteIdent, postgresDistinct, valueColumns, '"old"', '"s"')})`;
    }
    let conflict = '';
    if (batch.append) {
      // A staging heap: no conflict to handle.
    } else if (updates.length === 0) conflict = ` ON CONFLICT (${key}) DO NOTHING`;
    else {
      conflict = ` ON CONFLICT (${key}) DO UPDATE SET ${updates.join(', ')}`;
      const guards: string[] = [];
      if (batch.unlessStoredNewer !== undefined) {
        const column = quoteIdent(batch.unlessStoredNewer);
        guards.push(`("cur".${column} IS NULL OR EXCLUDED.${column} >= "cur".${column})`);
      }
      if (batch.onlyChanged) guards.push(changedSql(quoteIdent, postgresDistinct, valueColumns, '"cur"', 'EXCLUDED'));
      if (guards.length > 0) conflict += ` WHERE ${guards.join(' AND ')}`;
    }
    // The rows come from a relation named "s": the unnested arrays, or COPY's temporary table.
    const insertFrom = (rows: string): string => `INSERT INTO ${relation} AS "cur" (${names}) SELECT ${names} FROM ${rows} AS "s" (${names})${unchangedLeftOut}${conflict}`;
    if (batch.rows.length >= COPY_FROM_ROWS) return this.upsertByCopy(batch, insertFrom);
    const arrays = batch.columns.map((column, index) => `$${index + 1}::${POSTGRES_TYPES[column.type]}[]`).join(', ');
    const sql = insertFrom(`unnest(${arrays})`);
    let written = 0;
    for (const chunk of uniqueKeyChunks(batch.rows, batch.keyPositions, ROWS_PER_STATEMENT)) {
      const values = batch.positions.map((position, index) => {
        const { type } = batch.columns[index] as ColumnSpec;
        return chunk.map((row) => toPg(row[position] as SqlValue, type));
      });
      try {
        written += (await this.query(sql, values)).rowCount ?? 0;
      } catch (error) {
        throw this.refused(batch, chunk, error);
      }
    }
    return written;
  }

  /**
   * COPY into a temporary table of the batch's columns, then one INSERT ... SELECT ... ON CONFLICT.
   * Chunks keep keys unique, as ON CONFLICT DO UPDATE may not touch a row twice in one statement.
   */
  private async upsertByCopy(batch: UpsertBatch, insertFrom: (rows: string) => string): Promise<number> {
    const staging = await this.copyTable(batch.columns);
    const names = batch.columns.map((column) => quoteIdent(column.name)).join(', ');
    const insert = insertFrom(staging);
    let written = 0;
    for (const chunk of uniqueKeyChunks(batch.rows, batch.keyPositions, ROWS_PER_COPY)) {
      try {
        await this.copyIn(`COPY ${staging} (${names}) FROM STDIN`, copyText(chunk, batch.positions, batch.columns));
        written += (await this.query(insert, [])).rowCount ?? 0;
        await this.query(`TRUNCATE ${staging}`, []);
      } catch (error) {
        throw this.refused(batch, chunk, error);
      }
    }
    return written;
  }

  /** A temporary table of these columns (no key: the chunks are unique already), created once per transaction. */
  private async copyTable(columns: readonly ColumnSpec[]): Promise<string> {
    const shape = columns.map((column) => `${column.name}:${column.type}`).join(',');
    let name = this.copyTables.get(shape);
    if (name === undefined) {
      const plain = quoteIdent(`dss_copy_${this.copyTables.size}`);
      const definitions = columns.map((column) => `${quoteIdent(column.name)} ${POSTGRES_TYPES[column.type]}`).join(', ');
      await this.query(`CREATE TEMP TABLE ${plain} (${definitions}) ON COMMIT DROP`, []);
      name = `pg_temp.${plain}`;
      this.copyTables.set(shape, name);
    }
    return name;
  }

  /** The error of a chunk the server refused, naming the table and the rows; a lost connection stays as it is. */
  private refused(batch: UpsertBatch, chunk: readonly (readonly Cell[])[], error: unknown): unknown {
    if (this.loss?.error) return error;
    const first = batch.rowIndex(chunk[0] as readonly Cell[]);
    return new Error(`table ${batch.target.spec.name}: upsert of ${chunk.length} rows from row ${first} was refused: ${describePgError(error)}`, { cause: error });
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
