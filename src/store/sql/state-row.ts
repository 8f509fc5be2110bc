import type { JsonValue } from '../../core/json.js';
import type { StreamStatus, SyncState } from '../../core/sync-state.js';
import { asText, readInteger } from './read-values.js';

/** A sync_state row as written: one value per column of SYNC_STATE (internal-tables.ts). */
export type StateRow = Readonly<Record<string, string | number | null>>;

const STATUSES = new Set<StreamStatus>(['idle', 'running', 'backoff', 'failed', 'gone']);

/**
 * Cursor and details are kept as JSON text, never as a parsed document type (jsonb would reorder
 * keys and rewrite numbers): a cursor must come back exactly as the source wrote it. SQL NULL
 * stands for a null cursor, so "never synced" is plain to see and to set by hand.
 */
export function stateToRow(state: SyncState): StateRow {
  return {
    stream_id: state.streamId,
    job_id: state.jobId,
    kind: state.kind,
    cursor: state.cursor === null ? null : JSON.stringify(state.cursor),
    status: state.status,
    last_attempt_at: state.lastAttemptAt,
    last_success_at: state.lastSuccessAt,
    last_change_at: state.lastChangeAt,
    consecutive_failures: state.consecutiveFailures,
    last_error: state.lastError,
    rows_upserted: state.rowsUpserted,
    rows_deleted: state.rowsDeleted,
    details: state.details === null ? null : JSON.stringify(state.details),
    lease_owner: state.leaseOwner,
    lease_epoch: state.leaseEpoch,
  };
}

export function rowToState(row: Readonly<Record<string, unknown>>): SyncState {
  const status = String(row.status) as StreamStatus;
  if (!STATUSES.has(status)) throw new Error(`sync_state row ${String(row.stream_id)}: unknown status ${JSON.stringify(row.status)}`);
  return {
    streamId: String(row.stream_id),
    jobId: String(row.job_id),
    kind: String(row.kind),
    cursor: parseJson(row.cursor, row.stream_id, 'cursor'),
    status,
    lastAttemptAt: textOrNull(row.last_attempt_at),
    lastSuccessAt: textOrNull(row.last_success_at),
    lastChangeAt: textOrNull(row.last_change_at),
    consecutiveFailures: count(row.consecutive_failures),
    lastError: textOrNull(row.last_error),
    rowsUpserted: count(row.rows_upserted),
    rowsDeleted: count(row.rows_deleted),
    details: parseJson(row.details, row.stream_id, 'details'),
    leaseOwner: textOrNull(row.lease_owner),
    leaseEpoch: count(row.lease_epoch),
  };
}

function parseJson(value: unknown, streamId: unknown, column: string): JsonValue {
  if (value === null || value === undefined) return null;
  try {
    return JSON.parse(asText(value)) as JsonValue;
  } catch (error) {
    throw new Error(`sync_state row ${asText(streamId)}: ${column} is not JSON (${(error as Error).message})`, { cause: error });
  }
}

function textOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : asText(value);
}

function count(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint' || typeof value === 'string') return Number(readInteger(value));
  return 0;
}
