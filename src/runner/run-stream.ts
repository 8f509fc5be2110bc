import type { Logger } from 'pino';
import type { JsonValue } from '../core/json.js';
import type { ApplyCounts } from '../core/ops.js';
import {
  ActionRequiredError,
  RetryLaterError,
  StreamGoneError,
  type SourceEvent,
  type StreamSource,
} from '../core/source.js';
import { initialState, type StreamStatus, type SyncState } from '../core/sync-state.js';
import type { HttpClient } from '../http/client.js';
import type { OutboxTracking } from '../store/delivery.js';
import { LeaseLostError, type Store } from '../store/store.js';
import { describeError } from './describe-error.js';
import { runDeadline, RunTimeoutError } from './run-timeout.js';

export interface RunStreamOptions {
  readonly store: Store;
  readonly source: StreamSource;
  readonly http: HttpClient;
  readonly log: Logger;
  /** A shutdown: the run stops and rolls back, and that is not counted as the stream's failure. */
  readonly signal: AbortSignal;
  /**
   * The run's `runTimeout`: past it the run is aborted, rolled back and recorded as a failure
   * (RunTimeoutError). Every way a stream runs (the daemon's schedules, `sync`, the demo) passes here.
   */
  readonly runTimeoutMs?: number;
  /** Who runs it, for the lease (host:pid of the daemon). */
  readonly owner?: string;
  /** An operator asked for this run (`sync`): see ReadContext.requested. */
  readonly requested?: boolean;
  readonly now?: () => Date;
  /** The stream's records are pushed: each commit records what it changed for these targets. */
  readonly outbox?: OutboxTracking;
}

export interface RunResult {
  readonly streamId: string;
  readonly commits: number;
  readonly upserted: number;
  readonly deleted: number;
  readonly cursor: JsonValue;
}

/** A stream run that ended without committing past its last checkpoint. */
export class StreamRunError extends Error {
  constructor(
    readonly streamId: string,
    readonly status: StreamStatus,
    readonly retryAfterMs: number | undefined,
    cause: unknown,
  ) {
    super(`stream ${streamId}: ${describeError(cause)}`, { cause });
    this.name = 'StreamRunError';
  }
}

/** Another holder has the stream's lease (another daemon, or an overlapping run). */
export class StreamBusyError extends Error {
  constructor(readonly streamId: string) {
    super(`stream ${streamId} is being synced by another run; skipped`);
    this.name = 'StreamBusyError';
  }
}

/**
 * Runs one stream once: reads from its committed cursor and applies the source's events. Each
 * checkpoint commits the changes before it together with the new cursor in one transaction, so a
 * failure at any point leaves the store at the last checkpoint, never between two.
 *
 * The transaction is opened only when the first event of a commit unit has arrived: waiting for a
 * slow server must not hold the store (SQLite has a single writer shared by every stream).
 */
export async function runStream(options: RunStreamOptions): Promise<RunResult> {
  const { store, source, http, log } = options;
  const now = options.now ?? (() => new Date());
  const owner = options.owner ?? `pid:${process.pid}`;

  const lease = await store.acquireLease(source.id, owner);
  if (!lease) throw new StreamBusyError(source.id);
  const deadline = runDeadline(options.signal, options.runTimeoutMs);
  const { signal } = deadline;
  // The run log: every run of a stream lies between these two lines, wherever it ran (tests check
  // that no two daemons sharing a store ever overlap on one stream).
  log.debug({ epoch: lease.epoch, owner }, 'lease taken');
  try {
    let state: SyncState = (await store.readState(source.id)) ?? initialState(source.id, source.jobId, source.kind);
    state = {
      ...state,
      jobId: source.jobId,
      kind: source.kind,
      status: 'running',
      lastAttemptAt: now().toISOString(),
      leaseOwner: owner,
      leaseEpoch: lease.epoch,
    };

    const totals: ApplyCounts = { upserted: 0, deleted: 0, updated: 0 };
    let commits = 0;
    // Every transaction of the run is inside: the store's connection may be lost in any of them
    // (a database restart), and the failure must be recorded rather than leave the stream `running`.
    try {
      await store.transaction((tx) => tx.writeState(state));
      signal.throwIfAborted();
      const events = source.read({ cursor: state.cursor, details: state.details, signal, http, log, requested: options.requested ?? false })[
        Symbol.asyncIterator
      ]();
      try {
        for (;;) {
          const buffered = await bufferUnitStart(events);
          if (buffered.length === 0) break;
          state = await store.transaction(async (tx) => {
            const unit: ApplyCounts = { upserted: 0, deleted: 0, updated: 0 };
            for (let index = 0; ; index += 1) {
              let event = buffered[index];
              if (event === undefined) {
                const step = await events.next();
                if (step.done) {
                  throw new Error('the source ended with changes after its last checkpoint; they were rolled back');
                }
                event = step.value;
              }
              if (event.type === 'changes') {
                // Housekeeping changes nothing a reader sees as news, so nothing to push either.
                const stored = await tx.apply(event.ops, event.countAs === 'housekeeping' ? undefined : options.outbox);
                event.onApplied?.(stored);
                const counts = countedAs(stored, event.countAs);
                unit.upserted += counts.upserted;
                unit.deleted += counts.deleted;
                unit.updated += counts.updated;
              } else {
                // Rows updated in place changed the mirror too, though sync_state has no total for them.
                const changes = unit.upserted + unit.deleted + unit.updated;
                const at = now();
                const next: SyncState = {
                  ...state,
                  cursor: event.cursor,
                  details: event.details === undefined ? state.details : event.details,
                  lastChangeAt: changes > 0 ? at.toISOString() : state.lastChangeAt,
                  rowsUpserted: state.rowsUpserted + unit.upserted,
                  rowsDeleted: state.rowsDeleted + unit.deleted,
                };
                // Checked last so that an abort during the unit rolls it back rather than half-applying it.
                signal.throwIfAborted();
                await tx.writeState(next);
                if (changes > 0) await tx.recordChanges(source.id, at, changes);
                totals.upserted += unit.upserted;
                totals.deleted += unit.deleted;
                totals.updated += unit.updated;
                return next;
              }
            }
          });
          commits += 1;
        }
      } finally {
        // Lets the source close its response bodies when we stop early.
        await events.return?.(undefined).catch(() => undefined);
      }
      state = {
        ...state,
        status: 'idle',
        lastSuccessAt: now().toISOString(),
        consecutiveFailures: 0,
        lastError: null,
      };
      await store.transaction((tx) => tx.writeState(state));
    } catch (error) {
      const failure = deadline.timedOut()
        ? new StreamRunError(source.id, 'failed', undefined, signal.reason as RunTimeoutError)
        : classify(source.id, error, signal);
      await recordFailureOnceReachable(() => recordFailure(store, source, owner, lease.epoch, failure, now), signal, log).catch((stateError: unknown) => {
        log.error({ err: describeError(stateError) }, 'could not record the failure in sync_state');
      });
      throw failure;
    }
    return { streamId: source.id, commits, upserted: totals.upserted, deleted: totals.deleted, cursor: state.cursor };
  } finally {
    deadline.clear();
    log.debug({ epoch: lease.epoch, owner }, 'releasing the lease');
    await lease.release();
  }
}

/**
 * Rows a unit may hold in memory before its transaction opens. Most units (an RPDE page, a small
 * SDMX delta) fit, so their transaction lasts only as long as the writes; a large one (a full
 * load) opens it early and streams through it, keeping memory flat.
 */
export const BUFFER_ROWS = 20_000;

/**
 * Reads a unit's first events outside any transaction, up to its checkpoint or BUFFER_ROWS rows:
 * waiting for the network must not hold the store, whose writer (SQLite's only one) every stream
 * shares. Returns [] when the source has ended.
 */
async function bufferUnitStart(events: AsyncIterator<SourceEvent>): Promise<SourceEvent[]> {
  const buffered: SourceEvent[] = [];
  let rows = 0;
  for (;;) {
    const step = await events.next();
    if (step.done) {
      if (buffered.length > 0) {
        throw new Error('the source ended with changes after its last checkpoint; they were rolled back');
      }
      return buffered;
    }
    buffered.push(step.value);
    // A source waiting for onApplied must see the counts before it is resumed: apply now.
    if (step.value.type === 'checkpoint' || step.value.onApplied !== undefined) return buffered;
    for (const op of step.value.ops) rows += 'rows' in op ? op.rows.length : 'keys' in op ? op.keys.length : 1;
    if (rows >= BUFFER_ROWS) return buffered;
  }
}

/** The store's counts of one event, as the stream's totals count them (SourceEvent's countAs). */
function countedAs(counts: ApplyCounts, countAs: 'deletions' | 'housekeeping' | undefined): ApplyCounts {
  switch (countAs) {
    case undefined:
      return counts;
    case 'deletions':
      return { upserted: 0, deleted: counts.upserted + counts.deleted + counts.updated, updated: 0 };
    case 'housekeeping':
      return { upserted: 0, deleted: 0, updated: 0 };
  }
}

function classify(streamId: string, error: unknown, signal: AbortSignal): StreamRunError {
  if (error instanceof StreamRunError) return error;
  if (error instanceof StreamGoneError) return new StreamRunError(streamId, 'gone', undefined, error);
  if (error instanceof ActionRequiredError) return new StreamRunError(streamId, 'failed', undefined, error);
  if (error instanceof RetryLaterError) return new StreamRunError(streamId, 'backoff', error.retryAfterMs, error);
  const retryAfterMs = retryAfterOf(error);
  if (signal.aborted) return new StreamRunError(streamId, 'idle', undefined, signal.reason ?? error);
  return new StreamRunError(streamId, 'backoff', retryAfterMs, error);
}

function retryAfterOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'retryAfterMs' in error) {
    const value = error.retryAfterMs;
    return typeof value === 'number' ? value : undefined;
  }
  return undefined;
}

/**
 * Waits between attempts to record a failure: a failure that came from the store itself (a
 * database restart) finds it unreachable for a second or two, and the record (status, cause,
 * count of failures, which the backoff grows with) must not be lost to that.
 */
const RECORD_RETRY_DELAYS_MS = [250, 500, 1_000, 2_000, 4_000];

async function recordFailureOnceReachable(record: () => Promise<void>, signal: AbortSignal, log: Logger): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await record();
      return;
    } catch (error) {
      const delay = RECORD_RETRY_DELAYS_MS[attempt];
      // A later lease has the stream (waiting will not change that), or the daemon is stopping.
      if (delay === undefined || error instanceof LeaseLostError || signal.aborted) throw error;
      log.warn({ err: describeError(error), retryInMs: delay }, 'could not record the failure in sync_state yet; trying again');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Re-reads the committed state so that nothing of the failed run (cursor, counts) leaks into it. */
async function recordFailure(
  store: Store,
  source: StreamSource,
  owner: string,
  epoch: number,
  failure: StreamRunError,
  now: () => Date,
): Promise<void> {
  await store.transaction(async (tx) => {
    const committed = (await tx.readState(source.id)) ?? initialState(source.id, source.jobId, source.kind);
    // A shutdown is not the stream's fault: it neither counts as a failure nor replaces the last error.
    const interrupted = failure.status === 'idle';
    // Waiting because the remote asked us to is not a failure either; anything else counts.
    const counts = !interrupted && !(failure.cause instanceof RetryLaterError);
    await tx.writeState({
      ...committed,
      status: failure.status,
      lastAttemptAt: now().toISOString(),
      consecutiveFailures: committed.consecutiveFailures + (counts ? 1 : 0),
      lastError: interrupted ? committed.lastError : describeError(failure.cause),
      leaseOwner: owner,
      leaseEpoch: epoch,
    });
  });
}
