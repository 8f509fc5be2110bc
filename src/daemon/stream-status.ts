import type { JsonValue } from '../core/json.js';
import type { StreamStatus, SyncState } from '../core/sync-state.js';

/** What `status` and `/status` show for one stream. */
export interface StreamReport {
  readonly stream: string;
  readonly job: string;
  readonly kind: string;
  readonly status: StreamStatus | 'never-run';
  readonly cursor: JsonValue;
  /** Seconds since the last success; null if it never succeeded (the metric counts from the daemon's start instead). */
  readonly lagSeconds: number | null;
  readonly alerting: boolean;
  readonly lastAttemptAt: string | null;
  readonly lastSuccessAt: string | null;
  readonly lastChangeAt: string | null;
  readonly consecutiveFailures: number;
  readonly lastError: string | null;
  /** `running`, `queued` (waiting for a free slot), the next scheduled run (ISO), or null: none planned, or not known here (`status` outside the daemon). */
  readonly nextRun: string | null;
  readonly rowsUpserted: number;
  readonly rowsDeleted: number;
  readonly details: JsonValue;
}

export interface KnownStream {
  readonly id: string;
  readonly jobId: string;
  readonly kind: string;
  readonly alertAfterMs: number;
  /** A stream that never succeeded alerts once it has failed and this long has passed since the start. */
  readonly firstSyncGraceMs: number;
}

/**
 * Joins configured streams with their sync_state rows. A stream is alerting when it has had no
 * success for longer than its alertAfter, counted from the daemon's start when it never succeeded
 * (so a fresh deployment is not red before it had a chance). A stream that never succeeded and
 * has failed alerts sooner, once its firstSyncGrace has passed: waiting a whole alertAfter (a day
 * by default) would leave a job broken from its first run green all that time.
 */
export function buildReports(
  streams: readonly KnownStream[],
  states: readonly SyncState[],
  now: Date,
  startedAt: Date,
  nextRun: (streamId: string) => 'running' | 'queued' | Date | null = () => null,
): StreamReport[] {
  const byId = new Map(states.map((state) => [state.streamId, state]));
  const planned = (id: string): string | null => {
    const next = nextRun(id);
    return next instanceof Date ? next.toISOString() : next;
  };
  const reports = streams.map((stream) => report(stream, byId.get(stream.id), now, startedAt, planned(stream.id)));
  // States of streams no longer in the config are still shown: their tables are still in the store.
  for (const state of states) {
    if (!streams.some((stream) => stream.id === state.streamId)) {
      reports.push(report({ id: state.streamId, jobId: state.jobId, kind: state.kind, alertAfterMs: Infinity, firstSyncGraceMs: Infinity }, state, now, startedAt, null));
    }
  }
  return reports;
}

function report(stream: KnownStream, state: SyncState | undefined, now: Date, startedAt: Date, nextRun: string | null): StreamReport {
  const since = state?.lastSuccessAt ? Date.parse(state.lastSuccessAt) : startedAt.getTime();
  const lagMs = Math.max(0, now.getTime() - since);
  const failingFromTheStart =
    !state?.lastSuccessAt && (state?.consecutiveFailures ?? 0) > 0 && now.getTime() - startedAt.getTime() > stream.firstSyncGraceMs;
  return {
    stream: stream.id,
    job: stream.jobId,
    kind: stream.kind,
    status: state ? state.status : 'never-run',
    cursor: state?.cursor ?? null,
    lagSeconds: state?.lastSuccessAt ? Math.round(lagMs / 1000) : null,
    alerting: lagMs > stream.alertAfterMs || failingFromTheStart,
    lastAttemptAt: state?.lastAttemptAt ?? null,
    lastSuccessAt: state?.lastSuccessAt ?? null,
    lastChangeAt: state?.lastChangeAt ?? null,
    consecutiveFailures: state?.consecutiveFailures ?? 0,
    lastError: state?.lastError ?? null,
    nextRun,
    rowsUpserted: state?.rowsUpserted ?? 0,
    rowsDeleted: state?.rowsDeleted ?? 0,
    details: state?.details ?? null,
  };
}
