import type { Logger } from 'pino';
import type { HttpClient } from '../http/client.js';
import type { Store } from '../store/store.js';
import { buildPushReports, type PushReport } from './push-report.js';
import { DrainError, drainTarget, type DrainResult } from './pusher.js';
import type { PushedStream, PushTarget } from './pushed-stream.js';

export interface PushRunnerOptions {
  readonly store: Store;
  readonly http: HttpClient;
  readonly log: Logger;
  /** Who drains, for the stream's lease. */
  readonly owner: string;
  /** Retry waits after a failed drain: doubling from `initialMs`, capped at `maxMs`. */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  readonly maxBytes?: number;
}

interface Entry {
  readonly streamId: string;
  readonly push: PushedStream;
  running?: Promise<void> | undefined;
  /** Another drain was asked for while one ran. */
  again: boolean;
  timer?: NodeJS.Timeout | undefined;
  failures: number;
}

/**
 * Drains the outboxes of pushed streams in the daemon: after each sync of the stream, at start
 * (what a stopped daemon left undelivered), and again after a failure with capped backoff, so
 * delivery resumes by itself once the target answers again. A drain holds the stream's lease: it
 * never overlaps a sync of the stream, whose transactions append to the same outbox, nor another
 * daemon's drain.
 */
export class PushRunner {
  private readonly entries = new Map<string, Entry>();
  private readonly shutdown = new AbortController();
  private stopped = false;

  constructor(private readonly options: PushRunnerOptions) {}

  add(streamId: string, push: PushedStream): void {
    if (!this.entries.has(streamId)) this.entries.set(streamId, { streamId, push, again: false, failures: 0 });
  }

  /** Every pushed stream's targets, for reports. */
  targets(): { streamId: string; target: PushTarget }[] {
    return [...this.entries.values()].flatMap((entry) => entry.push.targets.map((target) => ({ streamId: entry.streamId, target })));
  }

  async reports(now = new Date()): Promise<PushReport[]> {
    const { store } = this.options;
    const configured = this.targets().map(({ streamId, target }) => ({ target: target.delivery.id, stream: streamId, alertAfterMs: target.alertAfterMs }));
    return buildPushReports(configured, await store.targetStates(), await store.outboxSummaries(), now);
  }

  /** Drains the stream's targets now, or right after the drain in progress. */
  drainSoon(streamId: string): void {
    const entry = this.entries.get(streamId);
    if (!entry || this.stopped) return;
    if (entry.running) {
      entry.again = true;
      return;
    }
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.running = this.run(entry).finally(() => {
      entry.running = undefined;
      if (entry.again && !this.stopped) {
        entry.again = false;
        this.drainSoon(streamId);
      }
    });
  }

  drainAll(): void {
    for (const streamId of this.entries.keys()) this.drainSoon(streamId);
  }

  /** Waits for drains in progress (for tests and `sync`). */
  async idle(): Promise<void> {
    for (let running = this.running(); running.length > 0; running = this.running()) await Promise.allSettled(running);
  }

  private running(): Promise<void>[] {
    return [...this.entries.values()].flatMap((entry) => (entry.running ? [entry.running] : []));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.shutdown.abort(new Error('the daemon is shutting down'));
    for (const entry of this.entries.values()) if (entry.timer) clearTimeout(entry.timer);
    await Promise.allSettled(this.running());
  }

  private async run(entry: Entry): Promise<void> {
    const { log } = this.options;
    try {
      const results = await drainStream(entry.streamId, entry.push, { ...this.options, signal: this.shutdown.signal });
      if (results === undefined) return; // A sync holds the stream; it asks for a drain when it ends.
      const failure = [...results.values()].find((result) => result instanceof DrainError);
      if (failure !== undefined) throw failure;
      entry.failures = 0;
    } catch (error) {
      if (this.stopped) return;
      entry.failures += 1;
      const retry = this.options.retry ?? { initialMs: 1_000, maxMs: 300_000 };
      const wait = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(entry.failures - 1, 30));
      log.error({ stream: entry.streamId, err: error instanceof Error ? error.message : String(error), retryInMs: wait }, 'push failed; the outbox is kept');
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        this.drainSoon(entry.streamId);
      }, wait);
    }
  }
}

/**
 * Drains every target of a stream under its lease; undefined when another run holds the lease. A
 * target that fails does not keep the others from being drained: its DrainError is its result, so
 * what the others delivered is still told (a sync reports it per target).
 */
export async function drainStream(
  streamId: string,
  push: PushedStream,
  options: { readonly store: Store; readonly http: HttpClient; readonly log: Logger; readonly owner: string; readonly signal: AbortSignal; readonly maxBytes?: number },
): Promise<Map<string, DrainResult | DrainError> | undefined> {
  const lease = await options.store.acquireLease(streamId, options.owner);
  if (!lease) return undefined;
  const results = new Map<string, DrainResult | DrainError>();
  try {
    for (const target of push.targets) {
      try {
        results.set(target.delivery.id, await drainTarget(target, { ...options, lease }));
      } catch (error) {
        if (!(error instanceof DrainError)) throw error;
        results.set(target.delivery.id, error);
      }
    }
  } finally {
    await lease.release();
  }
  return results;
}
