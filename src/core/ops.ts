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
  | UpdateWhereOp
  | BeginStagingOp
  | StageRowsOp
  | ApplyStagedOp
  | BeginSnapshotOp
  | SnapshotRowsOp
  | ApplySnapshotOp;

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
  /**
   * Write an existing row only when one of the given cells differs from the stored one (NULL
   * equals NULL): upserting rows equal to the stored ones writes nothing and counts nothing. For a
   * source that re-sends everything it read, so that the store's writes follow the changes.
   */
  readonly onlyChanged?: boolean;
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
 * Staging: a source that can only read a remote's whole content (a snapshot without change
 * markers) stages it row by row, and the store then applies the difference to the table in a few
 * set-based statements, inside the same transaction: rows that did not change are not written,
 * and the source never holds the snapshot in memory nor reads the table.
 *
 * Begin (or begin again, which empties it) an empty staging area for `table`: the listed columns,
 * which must include the whole primary key. The area is private to the transaction and never
 * outlives it (applyStaged ends it; a rollback drops it).
 */
export interface BeginStagingOp {
  readonly op: 'beginStaging';
  readonly table: string;
  readonly columns: readonly string[];
}

/**
 * Adds rows to the table's staging area, cells in the order of the begun columns (no `undefined`:
 * a staged row says everything about its columns). A key staged twice keeps its later row.
 */
export interface StageRowsOp {
  readonly op: 'stageRows';
  readonly table: string;
  readonly rows: readonly (readonly SqlValue[])[];
}

/**
 * Makes the table follow its staging area, then ends the staging.
 * - `staged: 'write'`: rows with a new key are inserted, stored rows whose staged columns differ
 *   are updated (columns not staged keep their values), and equal rows are left alone;
 *   `'ignore'`: the staged rows only name keys (a reconciliation pass: which rows still exist).
 * - `unstaged`: what happens to stored rows whose key was not staged: kept, deleted, or given the
 *   values of `set` where every condition of `where` also holds (e.g. marked as missing).
 * Idempotent: applying the same staged rows again changes nothing more.
 */
export interface ApplyStagedOp {
  readonly op: 'applyStaged';
  readonly table: string;
  readonly staged: 'write' | 'ignore';
  readonly unstaged: UnstagedRows;
}

export type UnstagedRows =
  | { readonly action: 'keep' }
  | { readonly action: 'delete' }
  | { readonly action: 'set'; readonly set: Readonly<Record<string, SqlValue>>; readonly where?: readonly Condition[] };

/**
 * Snapshot: a source that can only re-read a remote's whole content gives it all, in batches, and
 * the table is made equal to it (for the columns given): rows with a new key are inserted, rows
 * that differ are updated, equal rows are not written, and stored rows whose key the snapshot did
 * not give are deleted by applySnapshot, inside the same transaction. The store may remember
 * what it wrote (a digest per row) so that the next snapshot's writes follow the changes without
 * comparing each row in the database; that memory is its own business.
 *
 * Begin (or begin again, which starts the snapshot over) the snapshot of `table`: the listed
 * columns, which must include the whole primary key. While it is open, no other operation may
 * write the table.
 */
export interface BeginSnapshotOp {
  readonly op: 'beginSnapshot';
  readonly table: string;
  readonly columns: readonly string[];
}

/** Rows of the open snapshot, cells in the order of the begun columns (no `undefined`). A key given twice keeps its later row. */
export interface SnapshotRowsOp {
  readonly op: 'snapshotRows';
  readonly table: string;
  readonly rows: readonly (readonly SqlValue[])[];
}

/** Deletes the stored rows whose key the snapshot did not give, and ends it. */
export interface ApplySnapshotOp {
  readonly op: 'applySnapshot';
  readonly table: string;
}

/**
 * What applying operations did, for metrics and the sync_state totals. `updated` is kept apart
 * from `upserted`: rows changed in place by an updateWhere (an RPDE sweep tombstoning unseen
 * items, marking old tombstones for pruning) are neither new versions of rows nor deletions, and
 * adding them to either would misstate what a source wrote.
 */
export interface ApplyCounts {
  /** Rows inserted or updated by upsert, setNull, snapshotRows and applyStaged's staged rows. */
  upserted: number;
  deleted: number;
  /** Rows changed by updateWhere, and unstaged rows given values by applyStaged. */
  updated: number;
}
