import type { SyncState } from '../../core/sync-state.js';
import { LeaseLostError, type LeaseFence } from '../store.js';
import { updateWhere } from './change-applier.js';
import type { EngineSession, SqlConnection, SqlDialect } from './engine.js';
import { internalTarget, readRow, writeRow } from './internal-rows.js';
import { SYNC_STATE } from './internal-tables.js';
import { rowToState, stateToRow } from './state-row.js';

/** The sync_state table on every engine: a stream's row, the lease epoch that fences its commits. */

export async function readState(conn: SqlConnection, dialect: SqlDialect, streamId: string): Promise<SyncState | undefined> {
  const row = await readRow(conn, dialect, SYNC_STATE, streamId);
  return row ? rowToState(row) : undefined;
}

export async function listStates(conn: SqlConnection, dialect: SqlDialect): Promise<SyncState[]> {
  const rows = await conn.all(`SELECT * FROM ${dialect.relation(SYNC_STATE.name)} ORDER BY ${dialect.quote(SYNC_STATE.primaryKey)}`);
  return rows.map(rowToState);
}

/**
 * Inserts or replaces the stream's row, refused with LeaseLostError when a later lease has been
 * taken since this run's (its epoch is older than the stored one). The stored epoch is read under
 * a row lock, so the check and the write are one step against a concurrent lease taker.
 */
export async function writeState(session: EngineSession, dialect: SqlDialect, state: SyncState): Promise<void> {
  await checkLeaseEpoch(session, dialect, { streamId: state.streamId, epoch: state.leaseEpoch });
  await writeRow(session, dialect, SYNC_STATE, stateToRow(state));
}

/**
 * Refuses (LeaseLostError) a write made under a lease that a later one superseded. The stored
 * epoch is read under a row lock, held to the end of the transaction, so no lease can be taken
 * between the check and the commit.
 */
export async function checkLeaseEpoch(session: EngineSession, dialect: SqlDialect, fence: LeaseFence): Promise<void> {
  const stored = await storedEpoch(session, dialect, fence.streamId);
  if (stored !== undefined && fence.epoch < stored) throw new LeaseLostError(fence.streamId, fence.epoch, stored);
}

/**
 * Starts a lease: the stream's epoch goes up by one and names its owner. A stream never synced
 * gets a placeholder row carrying the epoch until the runner writes its real state.
 */
export async function takeLeaseEpoch(session: EngineSession, dialect: SqlDialect, streamId: string, owner: string): Promise<number> {
  const stored = await storedEpoch(session, dialect, streamId);
  const epoch = (stored ?? 0) + 1;
  if (stored === undefined) {
    await writeRow(session, dialect, SYNC_STATE, { stream_id: streamId, job_id: '', kind: '', status: 'idle', lease_owner: owner, lease_epoch: epoch });
  } else {
    await updateWhere(session, dialect, internalTarget(dialect, SYNC_STATE), {
      set: { lease_owner: owner, lease_epoch: epoch },
      where: [{ column: 'stream_id', op: '=', value: streamId }],
    });
  }
  return epoch;
}

/** Ends a lease: clears the owner, unless a later lease has taken the stream meanwhile. */
export async function clearLeaseOwner(session: EngineSession, dialect: SqlDialect, streamId: string, epoch: number): Promise<void> {
  await updateWhere(session, dialect, internalTarget(dialect, SYNC_STATE), {
    set: { lease_owner: null },
    where: [
      { column: 'stream_id', op: '=', value: streamId },
      { column: 'lease_epoch', op: '=', value: epoch },
    ],
  });
}

async function storedEpoch(session: EngineSession, dialect: SqlDialect, streamId: string): Promise<number | undefined> {
  const row = await readRow(session, dialect, SYNC_STATE, streamId, true);
  return row ? rowToState(row).leaseEpoch : undefined;
}
