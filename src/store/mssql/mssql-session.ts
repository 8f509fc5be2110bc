import sql from 'mssql';
import type { Cell, ColumnType, SqlValue } from '../../core/tables.js';
import type { Bound, EngineSession, KeySet, UpsertBatch } from '../sql/engine.js';
import { uniqueKeyChunks } from '../sql/unique-key-chunks.js';
import { isBound, whereClause } from '../sql/where-sql.js';
import { StoreSchemaError } from '../store.js';
import { applockGranted, applockResource, getApplockSql } from './mssql-applock.js';
import { MssqlConnection, mssqlType, toMssql } from './mssql-connection.js';
import { TEXT_COLLATION, keyTextLengths, quoteMssql as q, tempTable } from './mssql-dialect.js';

/**
 * A request carries at most 2,100 parameters, and sp_executesql takes two of them for the
 * statement and its declarations.
 */
export const MAX_PARAMETERS = 2098;
/** A table value constructor (VALUES) stops at 1,000 rows (Msg 10738). */
export const MAX_VALUES_ROWS = 1000;
/** Rows per bulk load call: each call holds its rows in memory once, as the driver serialises them. */
export const BULK_ROWS = 10_000;
/** How long DDL waits for another daemon's lock on the same table. */
const NAME_LOCK_TIMEOUT_MS = 60_000;

/** The bulk-loaded #temp tables a session writes through; the connection's own, dropped after use. */
const ROWS = 'dss_rows';
const KEYS = 'dss_keys';
/** Order of the rows as given, so that for one key the later row wins (ROW_NUMBER below). */
const SEQ = 'dss_seq';

interface Column {
  readonly name: string;
  readonly type: ColumnType;
}

/** Where a statement reads the rows or keys it writes with: a VALUES list with its parameters, or a bulk-loaded #temp table. */
interface Source {
  readonly sql: string;
  readonly params: readonly Bound[];
  /** The #temp table to drop after the statement. */
  readonly temp: string | undefined;
}

/**
 * SQL Server's writes on a transaction's connection, set-based. Rows or keys that fit in one
 * statement's parameters travel as a VALUES list; more travel as a bulk load (the TDS BULK_LOAD
 * stream, far cheaper to serialise than parameters or table-valued parameters) into a #temp
 * table on the same connection, then one MERGE, DELETE ... JOIN or UPDATE ... JOIN applies them.
 * No statement carries more than 2,098 parameters.
 */
export class MssqlSession extends MssqlConnection implements EngineSession {
  /**
   * MERGE ... WITH (UPDLOCK, HOLDLOCK): the key range stays locked from the match to the insert,
   * so two writers of one new key cannot both insert it (a bare MERGE races, error 2627).
   */
  async upsert(batch: UpsertBatch): Promise<number> {
    assertKeysFit(batch);
    const columns: Column[] = batch.columns.map((column) => ({ name: column.name, type: column.type }));
    const width = columns.length;
    const values = (row: readonly Cell[]): SqlValue[] => batch.positions.map((position) => row[position] as SqlValue);
    if (batch.rows.length * width <= MAX_PARAMETERS) {
      const perStatement = Math.min(MAX_VALUES_ROWS, Math.floor(MAX_PARAMETERS / width));
      let written = 0;
      for (const chunk of uniqueKeyChunks(batch.rows, batch.keyPositions, perStatement)) {
        const source = valuesSource(columns, chunk.map(values));
        written += await this.refusedAs(batch, chunk, () => this.counted(mergeSql(batch, source.sql), source));
      }
      return written;
    }
    const source = await this.bulkSource(ROWS, columns, batch.rows.map(values));
    // A key given twice keeps its last row: MERGE refuses two source rows for one target row (8672).
    const keys = batch.target.spec.primaryKey.map((name) => q(name)).join(', ');
    const dedupe = `WITH [d] AS (SELECT ROW_NUMBER() OVER (PARTITION BY ${keys} ORDER BY ${q(SEQ)} DESC) AS [rn] FROM ${source.sql}) DELETE FROM [d] WHERE [rn] > 1;`;
    return this.refusedAs(batch, batch.rows, () => this.counted(`${dedupe} ${mergeSql(batch, `${source.sql} AS [s]`)}`, source));
  }

  async deleteKeys(set: KeySet): Promise<number> {
    const match = await this.keyMatch(set);
    return this.counted(`DELETE [t] FROM ${set.target.relation} AS [t]${match.join}${match.where};`, match.source);
  }

  async setNullKeys(set: KeySet, columns: readonly string[]): Promise<number> {
    const assignments = columns.map((name) => `${q(name)} = NULL`).join(', ');
    const match = await this.keyMatch(set);
    return this.counted(`UPDATE [t] SET ${assignments} FROM ${set.target.relation} AS [t]${match.join}${match.where};`, match.source);
  }

  /** Two daemons creating or rebuilding one table take turns instead of failing on each other's DDL. */
  async lockName(name: string): Promise<void> {
    const resource = applockResource('relation', this.schema, name, true);
    if (!applockGranted(await this.all(getApplockSql(NAME_LOCK_TIMEOUT_MS), [{ value: resource, type: 'text' }]), resource)) {
      throw new Error(`table ${name}: another daemon held its lock for ${NAME_LOCK_TIMEOUT_MS / 1000} s`);
    }
  }

  /**
   * Joins "t" with the set's keys ("k", column c<i> for the i-th bound test); tests without a
   * value (IS NULL) and the all-NULL columns go in WHERE. A row matched by several keys is
   * written once.
   */
  private async keyMatch(set: KeySet): Promise<{ join: string; where: string; source: Source | undefined }> {
    const bound = set.columns.filter((column) => isBound(column.test));
    const where = whereClause([
      ...set.columns.filter((column) => !isBound(column.test)).map((column) => `[t].${q(column.name)} ${column.test}`),
      ...set.allNull.map((name) => `[t].${q(name)} IS NULL`),
    ]);
    if (bound.length === 0) return { join: '', where, source: undefined };
    const columns = bound.map((column, index) => ({ name: `c${index}`, type: column.type }));
    const on = bound.map((column, index) => `[t].${q(column.name)} ${column.test} [k].[c${index}]`).join(' AND ');
    const source =
      set.keys.length * bound.length <= MAX_PARAMETERS && set.keys.length <= MAX_VALUES_ROWS
        ? valuesSource(columns, set.keys)
        : await this.bulkSource(KEYS, columns, set.keys);
    // A VALUES list names its columns after the alias; a #temp table has them.
    const alias = source.temp === undefined ? `[k] (${columns.map((column) => q(column.name)).join(', ')})` : '[k]';
    return { join: ` JOIN ${source.sql} AS ${alias} ON ${on}`, where, source };
  }

  /**
   * Creates the #temp table in a plain batch (so it outlives the statement), then bulk loads the
   * rows, BULK_ROWS a call. Its columns match the bulk load's declared types exactly, as the
   * server requires; text is nvarchar(max) in the store's binary collation, so comparing it with
   * a key column needs no collation of its own.
   */
  private async bulkSource(name: string, columns: readonly Column[], rows: readonly (readonly SqlValue[])[]): Promise<Source> {
    const temp = tempTable(name);
    const declared = columns.map((column) => `${q(column.name)} ${tempColumnSql(column.type)} NULL`);
    await this.run(`DROP TABLE IF EXISTS ${temp}; CREATE TABLE ${temp} (${declared.join(', ')}, ${q(SEQ)} INT NOT NULL)`);
    for (let start = 0; start < rows.length; start += BULK_ROWS) {
      const table = new sql.Table(temp);
      table.create = false;
      for (const column of columns) table.columns.add(column.name, mssqlType(column.type), { nullable: true });
      table.columns.add(SEQ, sql.Int(), { nullable: false });
      const end = Math.min(rows.length, start + BULK_ROWS);
      for (let r = start; r < end; r++) {
        const row = rows[r] as readonly SqlValue[];
        // The driver's typings leave out bigint, which its BigInt type takes (64-bit integers past 2^53).
        const cells = columns.map((column, c) => toMssql(row[c] as SqlValue, column.type)) as (string | number | boolean | null)[];
        table.rows.add(...cells, r);
      }
      await this.request().bulk(table);
    }
    return { sql: temp, params: [], temp };
  }

  /** Runs one writing statement and returns the rows it changed (@@ROWCOUNT), dropping the source's #temp table after it. */
  private async counted(statement: string, source: Source | undefined): Promise<number> {
    const drop = source?.temp === undefined ? '' : ` DROP TABLE ${source.temp};`;
    const rows = await this.all(`DECLARE @n INT; ${statement} SET @n = @@ROWCOUNT;${drop} SELECT @n AS [n];`, source?.params ?? []);
    return Number(rows[0]?.n ?? 0);
  }

  private async refusedAs(batch: UpsertBatch, rows: readonly (readonly Cell[])[], write: () => Promise<number>): Promise<number> {
    try {
      return await write();
    } catch (error) {
      const first = batch.rowIndex(rows[0] as readonly Cell[]);
      throw new Error(`table ${batch.target.spec.name}: upsert of ${rows.length} rows from row ${first} was refused: ${(error as Error).message}`, { cause: error });
    }
  }
}

function tempColumnSql(type: ColumnType): string {
  switch (type) {
    case 'integer':
      return 'BIGINT';
    case 'real':
      return 'FLOAT';
    case 'boolean':
      return 'BIT';
    default:
      return `NVARCHAR(MAX) COLLATE ${TEXT_COLLATION}`;
  }
}

/** `(VALUES (@p1, @p2), (@p3, @p4))`, its columns named by the caller, with the values bound in order. */
function valuesSource(columns: readonly Column[], rows: readonly (readonly SqlValue[])[]): Source {
  const params: Bound[] = [];
  const tuples = rows.map((row) => {
    const placeholders = columns.map((column, c) => {
      params.push({ value: row[c] as SqlValue, type: column.type });
      return `@p${params.length}`;
    });
    return `(${placeholders.join(', ')})`;
  });
  return { sql: `(VALUES ${tuples.join(', ')})`, params, temp: undefined };
}

/**
 * MERGE for the given columns only, so omitted cells keep their stored value. "Newer wins" adds
 * a guard on the stored row; a stored NULL stamp never blocks an update. `source` is a VALUES
 * list (its column names are added here) or a #temp table with an alias.
 */
function mergeSql(batch: UpsertBatch, source: string): string {
  const { spec, relation } = batch.target;
  const names = batch.columns.map((column) => q(column.name));
  const using = source.startsWith('(VALUES') ? `${source} AS [s] (${names.join(', ')})` : source;
  const on = spec.primaryKey.map((name) => `[t].${q(name)} = [s].${q(name)}`).join(' AND ');
  const updates = batch.columns.filter((column) => !spec.primaryKey.includes(column.name)).map((column) => `${q(column.name)} = [s].${q(column.name)}`);
  let text = `MERGE INTO ${relation} WITH (UPDLOCK, HOLDLOCK) AS [t] USING ${using} ON ${on}`;
  if (updates.length > 0) {
    const guard = batch.unlessStoredNewer === undefined ? '' : ` AND ([t].${q(batch.unlessStoredNewer)} IS NULL OR [s].${q(batch.unlessStoredNewer)} >= [t].${q(batch.unlessStoredNewer)})`;
    text += ` WHEN MATCHED${guard} THEN UPDATE SET ${updates.join(', ')}`;
  }
  return `${text} WHEN NOT MATCHED BY TARGET THEN INSERT (${names.join(', ')}) VALUES (${names.map((name) => `[s].${name}`).join(', ')});`;
}

/**
 * Key text columns are sized so the key fits SQL Server's index limits (mssql-dialect.ts); a
 * value longer than its column is refused here, naming the column and row, before anything is
 * sent (the server would only say that a value was truncated, or that the bulk load's column
 * length was invalid).
 */
function assertKeysFit(batch: UpsertBatch): void {
  const lengths = keyTextLengths(batch.target.spec);
  if (lengths.size === 0) return;
  batch.columns.forEach((column, index) => {
    const limit = lengths.get(column.name);
    if (limit === undefined) return;
    const position = batch.positions[index] as number;
    for (const row of batch.rows) {
      const cell = row[position];
      if (typeof cell === 'string' && cell.length > limit) {
        throw new StoreSchemaError(
          `table ${batch.target.spec.name}: column ${column.name} of row ${batch.rowIndex(row)} holds ${cell.length} characters; ` +
            `on SQL Server this key column holds at most ${limit} (an index key is at most 900 bytes, 1,700 for a secondary index)`,
        );
      }
    }
  });
}
