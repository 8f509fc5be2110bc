import type { ApplyCounts, ChangeOp } from '../../core/ops.js';
import type { SyncState } from '../../core/sync-state.js';
import type { StoreTransaction } from '../store.js';
import { applyChanges } from './change-applier.js';
import type { EngineSession, SqlDriver } from './engine.js';
import { SqlCatalog, type SpecCache } from './sql-catalog.js';
import type { OutboxTracking } from '../delivery.js';
import { recordChanges } from './history-table.js';
import { OutboxRecorder } from './outbox-recorder.js';
import { readState, writeState } from './state-table.js';

/**
 * One database transaction on a connection of the driver's: BEGIN, `fn`, then the catalog's
 * last DDL and COMMIT when `fn` resolves, ROLLBACK when anything rejects. A connection that
 * cannot roll back is released as broken, so the driver never hands it out again.
 */
export async function runInTransaction<T>(
  driver: SqlDriver,
  cache: SpecCache | undefined,
  fn: (session: EngineSession, catalog: SqlCatalog) => Promise<T>,
): Promise<T> {
  const held = await driver.acquire();
  let broken: Error | undefined;
  try {
    await held.begin().catch((error: unknown) => {
      // A BEGIN that failed leaves a connection nobody can vouch for.
      broken = asError(error);
      throw error;
    });
    const catalog = new SqlCatalog(held.session, driver.dialect, cache);
    try {
      const result = await fn(held.session, catalog);
      await catalog.beforeCommit();
      await held.commit();
      catalog.committed();
      return result;
    } catch (error) {
      await held.rollback().catch((rollbackError: unknown) => {
        broken = asError(rollbackError);
      });
      throw error;
    }
  } finally {
    held.release(broken);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * The handle a transaction's callback gets, the same on every engine. It refuses use once the
 * transaction has ended (a callback that kept it past its return would write outside any
 * transaction), also between the operations of an apply that was not awaited.
 */
export class SqlTransaction implements StoreTransaction {
  private done = false;
  private readonly outbox = new OutboxRecorder();

  constructor(
    private readonly session: EngineSession,
    private readonly catalog: SqlCatalog,
  ) {}

  finish(): void {
    this.done = true;
  }

  async apply(ops: readonly ChangeOp[], outbox?: OutboxTracking): Promise<ApplyCounts> {
    this.assertOpen();
    const noted = outbox === undefined ? undefined : (op: ChangeOp) => this.outbox.note(op, outbox, this.catalog);
    return applyChanges(this.session, this.catalog, ops, () => this.assertOpen(), noted);
  }

  /** Writes the outbox entries the transaction's operations made, just before it commits. */
  async beforeCommit(now: Date): Promise<void> {
    await this.outbox.flush(this.session, this.catalog.dialect, now);
  }

  async readState(streamId: string): Promise<SyncState | undefined> {
    this.assertOpen();
    return readState(this.session, this.catalog.dialect, streamId);
  }

  async writeState(state: SyncState): Promise<void> {
    this.assertOpen();
    await writeState(this.session, this.catalog.dialect, state);
  }

  async recordChanges(streamId: string, at: Date, changes: number): Promise<void> {
    this.assertOpen();
    await recordChanges(this.session, this.catalog.dialect, streamId, at, changes);
  }

  private assertOpen(): void {
    if (this.done) throw new Error('this transaction has already ended; use the tx of the current transaction');
  }
}
