import type { ChangeHistory } from '../core/change-history.js';
import type { ApplyCounts, ChangeOp } from '../core/ops.js';
import type { SyncState } from '../core/sync-state.js';
import type { SqlValue } from '../core/tables.js';
import type { DeliveryStore, OutboxTracking } from './delivery.js';

/**
 * The one port every engine implements (docs/architecture.md, "The store"; the SQL engines
 * through sql/sql-store.ts). It speaks of tables, keys and rows and knows nothing of SDMX, RPDE or ODS. A stream's changes and its new
 * cursor are written through one `transaction`, so after a crash the store holds either both or
 * neither.
 */
export interface Store extends DeliveryStore {
  readonly engine: string;
  /** Create or migrate the internal tables; single-instance engines also take the instance lock here. */
  open(): Promise<void>;
  /** Release locks and connections. Waits for an open transaction to finish or roll back. */
  close(): Promise<void>;
  /** Resolves when the store answers a trivial query (for /readyz). */
  ping(): Promise<void>;
  /**
   * Run `fn` in one database transaction: commit when it resolves, roll back when it rejects.
   * Transactions are serialised per store where the engine needs it (SQLite has one writer).
   */
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  readState(streamId: string): Promise<SyncState | undefined>;
  listStates(): Promise<SyncState[]>;
  /**
   * Take the run lease of a stream: at most one holder at a time across every daemon sharing the
   * store. Resolves to undefined when another holder has it. The lease's epoch fences commits:
   * `writeState` with an older epoch than the stored one fails.
   */
  acquireLease(streamId: string, owner: string): Promise<Lease | undefined>;
  /** Every row of a table ordered by its primary key: for `status`, tests and inspection, not the hot path. */
  readTable(table: string): Promise<Record<string, SqlValue>[]>;
  /** Each stream's recent changes per hour, as recorded by `recordChanges` (for the status page). */
  changeHistories(): Promise<Map<string, ChangeHistory>>;
}

export interface StoreTransaction {
  /**
   * Apply operations in order. Throws (and the transaction must roll back) on the first bad one.
   * With `outbox`, the records the operations may change are queued for its targets, committed
   * with them (store/delivery.ts).
   */
  apply(ops: readonly ChangeOp[], outbox?: OutboxTracking): Promise<ApplyCounts>;
  readState(streamId: string): Promise<SyncState | undefined>;
  /** Insert or replace the stream's row; fails with LeaseLostError if `leaseEpoch` is older than the stored one. */
  writeState(state: SyncState): Promise<void>;
  /** Counts `changes` rows changed by the stream at `at`, with the changes themselves: a rolled-back unit is not counted. */
  recordChanges(streamId: string, at: Date, changes: number): Promise<void>;
}

export interface Lease extends LeaseFence {
  readonly owner: string;
  release(): Promise<void>;
}

/** The lease a write is made under: refused with LeaseLostError once a later lease of the stream was taken. */
export interface LeaseFence {
  readonly streamId: string;
  readonly epoch: number;
}

export class LeaseLostError extends Error {
  constructor(streamId: string, epoch: number, storedEpoch: number) {
    super(`stream ${streamId}: lease epoch ${epoch} was superseded by ${storedEpoch}; the commit is refused`);
    this.name = 'LeaseLostError';
  }
}

/** A remote identifier or a requested table did not fit the store's rules. */
export class StoreSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreSchemaError';
  }
}

/** Another daemon holds the store (single-instance engines). */
export class StoreLockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreLockedError';
  }
}
