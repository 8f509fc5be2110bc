import type { RecordView } from '../core/records.js';
import type { ColumnType, PartialKey, SqlValue } from '../core/tables.js';
import type { LeaseFence } from './store.js';

/**
 * Delivery of a stream's records to targets elsewhere (docs/architecture.md, "Delivering records"),
 * as the store sees it: an outbox of what changed, written in the transaction that changes it, and
 * the state last delivered to each target. Keys and rows only; nothing here knows the target's
 * protocol.
 */

/** Given to a transaction's apply: every record whose key the ops touch is recorded for these targets. */
export interface OutboxTracking {
  /** Target ids fed by the stream's records. */
  readonly targets: readonly string[];
  /** The relation holding the records (RecordView.relation). */
  readonly relation: string;
  /**
   * The record key (RecordView.key; default: the relation's): a write is recorded by the key
   * columns it names, the others as wildcards.
   */
  readonly key?: readonly string[];
}

/** Records to compare with what was delivered: those matching the partial key, or every record (null). */
export type OutboxScope = PartialKey | null;

export interface OutboxEntry {
  readonly seq: number;
  readonly scope: OutboxScope;
  /** When the change was committed (ISO 8601). */
  readonly createdAt: string;
}

export interface DeliveryTarget {
  readonly id: string;
  readonly streamId: string;
  readonly records: RecordView;
}

export interface DeliveredField {
  readonly name: string;
  readonly type: ColumnType;
  /** A json document delivered as its text (RecordField.asText). */
  readonly asText: boolean;
}

/** The columns of a target's delivered state: the record key, and the fields delivered. */
export interface DeliveryShape {
  readonly key: readonly string[];
  readonly fields: readonly DeliveredField[];
}

/** A record by delivered-state column: the key columns and the fields. */
export type RecordRow = Readonly<Record<string, SqlValue>>;

/** A record whose current content differs from what was delivered. */
export interface RecordDifference {
  /** As the relation holds it now; undefined when it is no longer a record. */
  readonly current: RecordRow | undefined;
  /** As last delivered (or last sent, when that request was never acknowledged); undefined when it never was. */
  readonly delivered: RecordRow | undefined;
  /**
   * Set on changed records: the values last sent are the current ones, and the record differs only
   * because the request that sent them was never acknowledged (markUncertain), so sending them again
   * is enough.
   */
  readonly sameValues?: boolean;
}

export interface DifferenceQuery {
  /** Outbox scopes to look within (null: everything). */
  readonly scopes: readonly OutboxScope[];
  /** `changed`: records that are new or differ; `removed`: records delivered that no longer exist. */
  readonly which: 'changed' | 'removed';
  readonly limit: number;
  /** Records (by their key columns) to leave out: set aside by the caller. */
  readonly exclude: readonly RecordRow[];
}

/** A target's delivery bookkeeping, written by whoever delivers (and read by status). */
export interface TargetState {
  readonly target: string;
  readonly streamId: string;
  readonly lastSuccessAt: string | null;
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
  readonly consecutiveFailures: number;
  /** Records delivered (written or removed) since the target was first used. */
  readonly delivered: number;
  /** Records that cannot be delivered (described, for status); bounded. */
  readonly setAside: readonly string[];
  /** A restart of the delivery (emptying the target) began and has not finished. */
  readonly restartPending: boolean;
}

export interface OutboxSummary {
  readonly target: string;
  readonly depth: number;
  /** When the oldest undelivered change was committed; null when the outbox is empty. */
  readonly oldestAt: string | null;
}

/** The delivered records' shape changed since they were delivered (a column added, removed or retyped). */
export class DeliveryShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryShapeError';
  }
}

/** The delivery half of the Store port. */
export interface DeliveryStore {
  /** Creates the target's delivered state if missing; throws DeliveryShapeError when the records' columns changed since. */
  prepareDelivery(target: DeliveryTarget): Promise<DeliveryShape>;
  /** The oldest entries of the target's outbox, in commit order. */
  outboxEntries(target: string, limit: number): Promise<OutboxEntry[]>;
  /** Compares the records with the delivered state within the scopes, in SQL; at most `limit` differences. */
  differences(target: DeliveryTarget, shape: DeliveryShape, query: DifferenceQuery): Promise<RecordDifference[]>;
  /**
   * Rows about to be sent, in one transaction, before the request goes: written to the delivered
   * state as uncertain (the target may or may not apply them without our knowing: an answer lost,
   * a crash before it is recorded). An uncertain row counts as changed in `differences` until
   * markDelivered writes it again, so the next delivery removes the values it may have left there.
   */
  markUncertain(target: DeliveryTarget, shape: DeliveryShape, rows: readonly RecordRow[], fence?: LeaseFence): Promise<void>;
  /** Records that the target acknowledged, in one transaction: rows now delivered (no longer uncertain), and rows it removed. */
  markDelivered(target: DeliveryTarget, shape: DeliveryShape, change: { readonly written: readonly RecordRow[]; readonly removed: readonly RecordRow[] }, fence?: LeaseFence): Promise<void>;
  /**
   * Removes outbox entries once their records were delivered. With a `fence`, these three writes
   * are refused (LeaseLostError) once a later lease of the stream was taken: a drain that lost its
   * lease mid-request must not record what it sent over what the new holder delivered since.
   */
  removeOutboxEntries(target: string, seqs: readonly number[], fence?: LeaseFence): Promise<void>;
  outboxSummaries(): Promise<OutboxSummary[]>;
  targetStates(): Promise<TargetState[]>;
  writeTargetState(state: TargetState): Promise<void>;
  /** Forgets what was delivered (the target was emptied) and queues every record again, in one transaction. */
  restartDelivery(target: Pick<DeliveryTarget, 'id' | 'streamId'>): Promise<void>;
}
