import type { JsonValue } from './json.js';

export type StreamStatus = 'idle' | 'running' | 'backoff' | 'failed' | 'gone';

/** One row of `sync_state`: everything the daemon knows about one stream (docs/architecture.md, "Sync state"). */
export interface SyncState {
  readonly streamId: string;
  readonly jobId: string;
  readonly kind: string;
  /** Opaque to the runner; null = never synced (the next run is a full load). */
  readonly cursor: JsonValue;
  readonly status: StreamStatus;
  readonly lastAttemptAt: string | null;
  readonly lastSuccessAt: string | null;
  readonly lastChangeAt: string | null;
  readonly consecutiveFailures: number;
  readonly lastError: string | null;
  readonly rowsUpserted: number;
  readonly rowsDeleted: number;
  /** Per-source facts worth showing in `status` (e.g. conformance counts); small. */
  readonly details: JsonValue;
  readonly leaseOwner: string | null;
  readonly leaseEpoch: number;
}

export function initialState(streamId: string, jobId: string, kind: string): SyncState {
  return {
    streamId,
    jobId,
    kind,
    cursor: null,
    status: 'idle',
    lastAttemptAt: null,
    lastSuccessAt: null,
    lastChangeAt: null,
    consecutiveFailures: 0,
    lastError: null,
    rowsUpserted: 0,
    rowsDeleted: 0,
    details: null,
    leaseOwner: null,
    leaseEpoch: 0,
  };
}
