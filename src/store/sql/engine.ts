import type { Cell, ColumnSpec, ColumnType, SqlValue, TableSpec } from '../../core/tables.js';
import type { InternalTable } from './internal-tables.js';
import type { StagingDialect } from './staging.js';
import type { KeyTest } from './where-sql.js';

/**
 * The seam between the store and a database engine. Everything the Store port promises (one
 * transaction for changes and cursor, validation of every operation, the guarded transaction
 * handle, the lease-epoch fence, sync_state, the table catalog, migrations) is written once in
 * src/store/sql against these interfaces; an engine supplies only what differs:
 *
 * - a SqlDialect: the SQL text it spells its own way (quoting, placeholders, types, DDL);
 * - a SqlDriver: its client library (connections, transactions, leases), handed to SqlStore;
 * - an EngineSession per transaction: how it runs a statement, and its bulk paths for the writes
 *   a change operation turns into.
 *
 * A value an engine returns may be immediate (better-sqlite3 is synchronous) or a promise (pg,
 * tedious): the shared code awaits it either way, once per operation, so SQLite's hot path (a
 * loop of prepared statements inside `upsert`) never waits on the event loop.
 */
export type Awaitable<T> = T | PromiseLike<T>;

/** A row as the driver returns it: values are normalised later by the column's type (readCell). */
export type DriverRow = Record<string, unknown>;

/** A value to bind, with the type of the column it is compared with or written to. */
export interface Bound {
  readonly value: SqlValue;
  readonly type: ColumnType;
}

/** What a name is in the engine's own catalog. */
export type RelationKind = 'table' | 'view';

/**
 * The SQL text an engine writes its own way. Pure: no connection. Every identifier goes through
 * `quote`, which validates it first, so a name from remote data cannot leave its quotes.
 */
export interface SqlDialect {
  /** Validated, quoted identifier: `"x"` (SQLite, PostgreSQL), `[x]` (SQL Server). */
  quote(name: string, what?: string): string;
  /** The placeholder of the bound value at `index`, counted from 0: `?`, `$1`, `@p1`. */
  param(index: number): string;
  /** A relation of the store as statements name it: quoted, and schema-qualified where there are schemas. */
  relation(name: string): string;
  /**
   * Whether the engine folds the case of identifiers (SQLite, SQL Server): `Obs` and `obs` are then
   * one table, and the catalog looks names up without case.
   */
  readonly foldsCase: boolean;
  /**
   * Whether snapshots keep row digests (row-digests.ts) on this engine, or compare every row in the
   * database. Digests pay where a statement's round trip and row comparison cost more than hashing
   * the row in JavaScript (PostgreSQL, SQL Server); in-process SQLite compares a row in its B-tree
   * faster than the row can be hashed, so there digests only add work.
   */
  readonly keepsRowDigests: boolean;
  /** The column type a user table's column of this type is created with. */
  columnType(type: ColumnType): string;
  /** CREATE TABLE for a user table, under `physicalName` (its own name, or a shadow while rebuilt). */
  createTableSql(spec: TableSpec, physicalName: string): string;
  /**
   * ALTER TABLE adding a nullable column to a table the store made: a column of the store's own
   * that a table created by an earlier version lacks (the delivered state's `dss_uncertain`).
   */
  addColumnSql(physicalName: string, column: ColumnSpec): string;
  /** CREATE INDEX (if missing) on a user table's columns. */
  createIndexSql(physicalName: string, indexName: string, columns: readonly string[]): string;
  /** CREATE TABLE for one of the store's own tables (sync_state, dss_tables, ...). */
  createInternalTableSql(table: InternalTable): string;
  /** A column in ORDER BY, so that text sorts byte-wise on every engine (as SQLite does). */
  orderBy(column: ColumnSpec): string;
  /**
   * The row lock of a read that decides a write in the same transaction (the lease-epoch fence):
   * a hint after the table (`WITH (UPDLOCK, HOLDLOCK)`) and/or a clause at the end (`FOR UPDATE`).
   * Empty on an engine whose transactions already exclude each other (SQLite's single writer).
   */
  readonly lockedRead: { readonly afterTable: string; readonly atEnd: string };
  /**
   * How replaceTable rebuilds a table inside the transaction while readers keep the old rows:
   * `inPlace` drops and recreates it at once (SQLite: readers keep their WAL snapshot); `swap`
   * builds it under a shadow name and runs `swapSql` just before COMMIT (PostgreSQL and SQL Server,
   * whose DROP would lock readers out until the commit).
   */
  readonly rebuild: { readonly kind: 'inPlace' } | { readonly kind: 'swap'; swapSql(shadow: string, name: string, spec: TableSpec): string[] };
  /**
   * At most `count` rows from a SELECT: text right after the SELECT keyword (`TOP (n)`) and/or at
   * its end (`LIMIT n`).
   */
  firstRows(count: number): { readonly afterSelect: string; readonly atEnd: string };
  /** Staging tables for beginStaging / stageRows / applyStaged (sql/staging.ts writes the rest once). */
  readonly staging: StagingDialect;
}

/** One connection as the shared code uses it (a transaction's, or the reader outside transactions). */
export interface SqlConnection {
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly Bound[]): Awaitable<number>;
  /** Runs a query; resolves to its rows. */
  all(sql: string, params?: readonly Bound[]): Awaitable<DriverRow[]>;
  /** What the engine's catalog holds under this name (in the store's schema). */
  relationKind(name: string): Awaitable<RelationKind | undefined>;
  /** A spec read back from the engine's description of a table the store did not create. */
  introspect(name: string): Awaitable<TableSpec>;
}

/** Where a table's rows are written in this transaction: its own name, or its shadow after a replaceTable. */
export interface Target {
  readonly spec: TableSpec;
  /** The relation as statements name it (dialect.relation of the physical name). */
  readonly relation: string;
}

/**
 * Rows of one upsert that give the same cells, validated: every written column exists, the key is
 * complete in every row, "newer wins" names a written column that every row gives. The engine
 * writes them by key with its bulk path (multi-row INSERT, unnest arrays, a bulk-loaded #temp
 * table), in order: for one key, the later row wins.
 */
export interface UpsertBatch {
  readonly target: Target;
  /** The columns written, in statement order. */
  readonly columns: readonly ColumnSpec[];
  /** Where each written column's cell is in a row. */
  readonly positions: readonly number[];
  /** Where the key columns' cells are in a row, in primary-key order. */
  readonly keyPositions: readonly number[];
  readonly rows: readonly (readonly Cell[])[];
  /**
   * "Newer wins": update a stored row only when the incoming value of this column is greater than
   * or equal to the stored one; a stored NULL never blocks. One of `columns`.
   */
  readonly unlessStoredNewer: string | undefined;
  /** Update a stored row only when a written cell differs from it (SqlDialect.staging.distinct, NULL equal to NULL). */
  readonly onlyChanged: boolean;
  /** Plain INSERT, no conflict handling: rows appended to a table without a primary key (a staging heap). */
  readonly append: boolean;
  /** The row's index in the operation the caller gave, for an error that names it. */
  rowIndex(row: readonly Cell[]): number;
}

/** One key column's test in a KeySet. */
export interface KeyColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly test: KeyTest;
}

/**
 * Partial keys of one shape (the same columns with the same tests), validated, for deleteWhere,
 * setNull and prune: the rows matching any of them (a union) are written. An empty shape matches
 * every row.
 */
export interface KeySet {
  readonly target: Target;
  /** The tests each key makes, in table order. */
  readonly columns: readonly KeyColumn[];
  /** Per key, the values its `=` and `<>` tests compare with, in the order of `columns`. */
  readonly keys: readonly (readonly SqlValue[])[];
  /** Columns a matched row must also have NULL (prune: its value columns are all empty). */
  readonly allNull: readonly string[];
}

/**
 * One open transaction on the engine's connection: how statements run, and the engine's bulk
 * paths for the writes that change operations become. Adding an operation to ChangeOp adds (at
 * most) one method here; its validation lives once in the shared applier.
 */
export interface EngineSession extends SqlConnection {
  /** Upserts a validated batch; resolves to the rows written (inserted or updated). */
  upsert(batch: UpsertBatch): Awaitable<number>;
  /** Deletes the rows matching any key of the set; resolves to the rows deleted. */
  deleteKeys(keys: KeySet): Awaitable<number>;
  /** Sets `columns` (nullable, validated) to NULL in the rows matching any key; resolves to the rows changed. */
  setNullKeys(keys: KeySet, columns: readonly string[]): Awaitable<number>;
  /**
   * Serialises DDL on one relation name across daemons sharing the store, until the transaction
   * ends (PostgreSQL's advisory transaction lock, SQL Server's sp_getapplock); nothing on an
   * engine with a single writer.
   */
  lockName(name: string): Awaitable<void>;
}

/**
 * A connection held for one transaction. The shared runner calls begin, then commit or rollback,
 * then release, exactly once each.
 */
export interface DriverTransaction {
  readonly session: EngineSession;
  begin(): Promise<void>;
  /** Makes the transaction durable; engine checks that must come last (SQLite's instance-lock fence) go here. */
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** Gives the connection back; `broken` when it failed (it could not roll back, or the server dropped it), so it is never reused. */
  release(broken: Error | undefined): void;
}

/**
 * The client library side of an engine, handed to SqlStore (as Kysely's dialects hand it a
 * driver): connections, their lifecycle, and the stream locks behind leases.
 */
export interface SqlDriver {
  readonly engine: string;
  readonly dialect: SqlDialect;
  /** Names the store in messages: `store ./data/sync.db`, `store (schema mirror)`. */
  readonly label: string;
  readonly readOnly: boolean;
  /**
   * Only this process ever writes the store (SQLite's instance lock): table specs read once may be
   * cached across transactions. Shared engines re-read them in each transaction, since another
   * daemon may rebuild a table in between.
   */
  readonly singleWriter: boolean;
  /** Connects, migrates the store's own tables (sql/migrations.ts) and takes any instance lock. */
  open(): Promise<void>;
  /** Ends connections and locks; SqlStore calls it once no transaction is left running. */
  close(): Promise<void>;
  /** Reads outside any transaction: committed data only (except SQLite's `:memory:`, which has one connection). */
  reader(): SqlConnection;
  /** A connection for one transaction; waits for the one writer where there is only one. */
  acquire(): Promise<DriverTransaction>;
  /**
   * Holds a stream against every other run sharing the store, across transactions, until
   * unlockStream: false when another run holds it. Commits stay fenced by the lease epoch anyway.
   */
  lockStream(streamId: string): Promise<boolean>;
  unlockStream(streamId: string): Promise<void>;
}
