import type { Logger } from 'pino';
import type { HttpClient } from '../http/client.js';
import type { JsonValue } from './json.js';
import type { ApplyCounts, ChangeOp } from './ops.js';
import type { RecordView } from './records.js';

/**
 * What a source yields while reading one stream. `changes` are applied in order inside the open
 * transaction; `checkpoint` commits them together with the new cursor and opens the next
 * transaction if more follows. Changes left without a checkpoint when the source ends or throws
 * are rolled back: a source decides where its commit points are (an SDMX response, an RPDE page).
 */
export type SourceEvent =
  | {
      readonly type: 'changes';
      readonly ops: readonly ChangeOp[];
      /**
       * Called with what the store did before the source is resumed, for facts only the store
       * knows (e.g. how many unseen items an RPDE resync sweep tombstoned). The runner opens the
       * transaction at such an event, so the source must not wait on the network before its
       * checkpoint.
       */
      readonly onApplied?: (counts: ApplyCounts) => void;
      /**
       * What the rows these ops write mean in the stream's totals and metrics; by default what the
       * store counted. `deletions`: each row written records a deletion at the source (an RPDE
       * tombstone is an upserted row, a swept item an updated one). `housekeeping`: the rows change
       * nothing a reader of the mirror sees as news (pruning tombstones whose deletions were
       * counted when they were made). onApplied still gets the store's own counts.
       */
      readonly countAs?: 'deletions' | 'housekeeping';
    }
  | {
      readonly type: 'checkpoint';
      readonly cursor: JsonValue;
      /** Small per-stream facts to show in `status` (replaces the previous details when given). */
      readonly details?: JsonValue;
    };

export interface ReadContext {
  /** The committed cursor; null means never synced or reset: read everything (a full load). */
  readonly cursor: JsonValue;
  /** Per-stream details from the last checkpoint (e.g. conformance counts), or null. */
  readonly details: JsonValue;
  /** Aborted on shutdown and on the run's timeout; pass it to every request. */
  readonly signal: AbortSignal;
  readonly http: HttpClient;
  readonly log: Logger;
  /**
   * True when an operator asked for this run (`sync`), false or absent for the daemon's schedule.
   * A source's own floor between polls (RPDE's poll interval) paces the schedule only: a requested
   * run always asks the remote.
   */
  readonly requested?: boolean;
}

/** One unit of sync state (docs/architecture.md): a dataflow's data, an RPDE feed, a portal's catalog... */
export interface StreamSource {
  /** Stable id, e.g. `sdmx:oecd:OECD.CFE:DF_TOURISM(2.0):data`. */
  readonly id: string;
  readonly jobId: string;
  readonly kind: string;
  /**
   * For feeds meant to be polled (RPDE's last page): how often to run when the job sets no
   * schedules of its own, instead of defaults.schedules.
   */
  readonly pollIntervalMs?: number;
  /** The records the stream publishes, for a job that pushes them (its kind is `pushable`). */
  readonly records?: RecordView | undefined;
  read(ctx: ReadContext): AsyncIterable<SourceEvent>;
}

/**
 * Thrown by a source when the remote asks to be left alone for a while (429/503 with a long
 * Retry-After, RPDE's 60-120 minute rule). The runner waits at least that long; not a failure
 * that counts towards alerts on its own.
 */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

/** Thrown by a source when its stream no longer exists (RPDE 404/410): the stream is marked `gone`. */
export class StreamGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamGoneError';
  }
}

/**
 * Thrown by a source when retrying cannot help until an operator acts (e.g. the SDMX structure
 * changed and the mirror must be rebuilt with `reset`). The stream is marked `failed`.
 */
export class ActionRequiredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActionRequiredError';
  }
}
