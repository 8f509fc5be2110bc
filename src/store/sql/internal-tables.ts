import type { ColumnType, TableSpec } from '../../core/tables.js';

/**
 * The store's own tables, described once for every engine: each engine's dialect renders the
 * DDL (createInternalTableSql) and the shared code reads and writes them through the same
 * primitives as user tables (asTableSpec). A new internal table is a description here, a step in
 * sql/migrations.ts, and the functions that read and write it; no engine needs new code.
 *
 * A description is frozen once it has shipped in a migration: change a table through a new
 * migration step, never by editing what an old version created.
 */
export interface InternalTable {
  readonly name: string;
  readonly columns: readonly InternalColumn[];
  /** The primary key, one column. */
  readonly primaryKey: string;
}

export interface InternalColumn {
  readonly name: string;
  /** `int` is 32-bit where the engine distinguishes it (PostgreSQL INTEGER), `bigint` 64-bit. */
  readonly type: 'text' | 'int' | 'bigint';
  readonly notNull?: boolean;
  readonly default?: number;
  /** Compared without case where the engine folds identifier case (names of tables and views). */
  readonly foldCase?: boolean;
}

/** One row per stream (docs/architecture.md, "Sync state"): the cursor and the run's bookkeeping. */
export const SYNC_STATE: InternalTable = {
  name: 'sync_state',
  primaryKey: 'stream_id',
  columns: [
    { name: 'stream_id', type: 'text', notNull: true },
    { name: 'job_id', type: 'text', notNull: true },
    { name: 'kind', type: 'text', notNull: true },
    { name: 'cursor', type: 'text' },
    { name: 'status', type: 'text', notNull: true },
    { name: 'last_attempt_at', type: 'text' },
    { name: 'last_success_at', type: 'text' },
    { name: 'last_change_at', type: 'text' },
    { name: 'consecutive_failures', type: 'int', notNull: true, default: 0 },
    { name: 'last_error', type: 'text' },
    { name: 'rows_upserted', type: 'bigint', notNull: true, default: 0 },
    { name: 'rows_deleted', type: 'bigint', notNull: true, default: 0 },
    { name: 'details', type: 'text' },
    { name: 'lease_owner', type: 'text' },
    { name: 'lease_epoch', type: 'bigint', notNull: true, default: 0 },
  ],
};

/** The spec of every table the store created, as asked (so ensureTable compares with what was asked, not with what the engine reports). */
export const DSS_TABLES: InternalTable = {
  name: 'dss_tables',
  primaryKey: 'name',
  columns: [
    { name: 'name', type: 'text', notNull: true, foldCase: true },
    { name: 'spec', type: 'text', notNull: true },
  ],
};

/** Every view the store created: its spec, and the SELECT it was created with. */
export const DSS_VIEWS: InternalTable = {
  name: 'dss_views',
  primaryKey: 'name',
  columns: [
    { name: 'name', type: 'text', notNull: true, foldCase: true },
    { name: 'spec', type: 'text', notNull: true },
    { name: 'definition', type: 'text', notNull: true },
  ],
};

/** Changes applied per hour by each stream over its last hours (core/change-history.ts), as JSON: bounded per stream. */
export const DSS_STREAM_HISTORY: InternalTable = {
  name: 'dss_stream_history',
  primaryKey: 'stream_id',
  columns: [
    { name: 'stream_id', type: 'text', notNull: true },
    { name: 'history', type: 'text', notNull: true },
  ],
};

/**
 * The outbox of record deliveries (store/delivery.ts): per target, the keys of records changed by
 * a committed transaction (a partial key as JSON, or NULL for every record), written in that
 * transaction. `seq` orders them across targets; an entry goes once its records were delivered.
 */
export const DSS_OUTBOX: InternalTable = {
  name: 'dss_outbox',
  primaryKey: 'seq',
  columns: [
    { name: 'seq', type: 'bigint', notNull: true },
    { name: 'target', type: 'text', notNull: true },
    { name: 'scope', type: 'text' },
    { name: 'created_at', type: 'text', notNull: true },
  ],
};

/**
 * One row per delivery target: the table holding what was last delivered to it (created on first
 * use, with the records' columns, as `spec` says), and the delivery's bookkeeping for status.
 */
export const DSS_DELIVERY_TARGETS: InternalTable = {
  name: 'dss_delivery_targets',
  primaryKey: 'target',
  columns: [
    { name: 'target', type: 'text', notNull: true },
    { name: 'stream_id', type: 'text', notNull: true },
    { name: 'delivered_table', type: 'text' },
    { name: 'spec', type: 'text' },
    { name: 'last_success_at', type: 'text' },
    { name: 'last_error', type: 'text' },
    { name: 'last_error_at', type: 'text' },
    { name: 'consecutive_failures', type: 'int', notNull: true, default: 0 },
    { name: 'delivered', type: 'bigint', notNull: true, default: 0 },
    { name: 'set_aside', type: 'text' },
    { name: 'restart_pending', type: 'int', notNull: true, default: 0 },
  ],
};

/** The migrations applied (sql/migrations.ts); created before any of them. */
export const DSS_SCHEMA_VERSION: InternalTable = {
  name: 'dss_schema_version',
  primaryKey: 'version',
  columns: [
    { name: 'version', type: 'int' },
    { name: 'applied_at', type: 'text', notNull: true },
  ],
};

const SPEC_TYPES: Record<InternalColumn['type'], ColumnType> = { text: 'text', int: 'integer', bigint: 'integer' };

/** The table as the shared write primitives see it (upsert, updateWhere, readRows). */
export function asTableSpec(table: InternalTable): TableSpec {
  return {
    name: table.name,
    columns: table.columns.map((column) => ({
      name: column.name,
      type: SPEC_TYPES[column.type],
      ...(column.notNull ? { nullable: false } : {}),
    })),
    primaryKey: [table.primaryKey],
  };
}

/**
 * Column declarations in the form every engine's DDL shares (`name TYPE [PRIMARY KEY] [NOT NULL]
 * [DEFAULT n] [collation]`), from the engine's own type names and case-folding collation.
 */
export function internalColumnsSql(
  table: InternalTable,
  quote: (name: string) => string,
  typeOf: (column: InternalColumn, isKey: boolean) => string,
  foldCaseCollation: string,
): string {
  return table.columns
    .map((column) => {
      const isKey = column.name === table.primaryKey;
      const parts = [quote(column.name), typeOf(column, isKey)];
      if (isKey) parts.push('PRIMARY KEY');
      if (column.notNull) parts.push('NOT NULL');
      if (column.default !== undefined) parts.push(`DEFAULT ${column.default}`);
      if (column.foldCase && foldCaseCollation !== '') parts.push(foldCaseCollation);
      return parts.join(' ');
    })
    .join(', ');
}
