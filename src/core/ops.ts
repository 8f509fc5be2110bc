import type { Cell, Condition, PartialKey, SqlValue, TableSpec, ViewSpec } from './tables.js';

/**
 * The changes a source emits, applied by the store strictly in the order given. The store may
 * group consecutive operations of one kind on one table for speed, never across another operation.
 * Every operation is idempotent, so replaying a window after a crash duplicates nothing.
 */
export type ChangeOp =
  | EnsureTableOp
  | ReplaceTableOp
  | EnsureViewOp
  | UpsertOp
  | DeleteWhereOp
  | SetNullOp
  | PruneOp
  | UpdateWhereOp;

/** Create the table if it is missing; fail with a clear message if it exists with other columns or key. */
export interface EnsureTableOp {
  readonly op: 'ensureTable';
  readonly spec: TableSpec;
}

/**
 * Drop and recreate the table (empty) inside the transaction: a full load writes into it and
 * readers keep seeing the old content until the transaction commits.
 */
export interface ReplaceTableOp {
  readonly op: 'replaceTable';
  readonly spec: TableSpec;
}

export interface EnsureViewOp {
  readonly op: 'ensureView';
  readonly spec: ViewSpec;
}

/**
 * Insert or update rows by primary key. Every row has one cell per entry of `columns`, which must
 * include the whole primary key. A cell that is `undefined` is omitted: the stored value stays.
 */
export interface UpsertOp {
  readonly op: 'upsert';
  readonly table: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /**
   * "Newer wins": update an existing row only when the incoming value of this column is greater
   * than or equal to the stored one (compared by the column's type). Used for feeds whose items
   * carry a modification stamp and may arrive out of order.
   */
  readonly unlessStoredNewer?: string;
}

/** Delete the rows matching each key (union); a column absent from a key matches any value. */
export interface DeleteWhereOp {
  readonly op: 'deleteWhere';
  readonly table: string;
  readonly keys: readonly PartialKey[];
}

/** Set the listed columns to NULL in the rows matching each key. */
export interface SetNullOp {
  readonly op: 'setNull';
  readonly table: string;
  readonly keys: readonly PartialKey[];
  readonly columns: readonly string[];
}

/** Delete the rows matching each key whose `valueColumns` are all NULL. */
export interface PruneOp {
  readonly op: 'prune';
  readonly table: string;
  readonly keys: readonly PartialKey[];
  readonly valueColumns: readonly string[];
}

/** Set columns to values in the rows matching every condition (a sweep, e.g. tombstoning unseen items). */
export interface UpdateWhereOp {
  readonly op: 'updateWhere';
  readonly table: string;
  readonly set: Readonly<Record<string, SqlValue>>;
  readonly where: readonly Condition[];
}

/**
 * What applying operations did, for metrics and the sync_state totals. `updated` is kept apart
 * from `upserted`: rows changed in place by an updateWhere (an RPDE sweep tombstoning unseen
 * items, marking old tombstones for pruning) are neither new versions of rows nor deletions, and
 * adding them to either would misstate what a source wrote.
 */
export interface ApplyCounts {
  upserted: number;
  deleted: number;
  /** Rows changed by updateWhere. */
  updated: number;
}
