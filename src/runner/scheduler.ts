import schedule from 'node-schedule';
import type { Logger } from 'pino';
import type { StreamSource } from '../core/source.js';
import type { PushedStream } from '../push/pushed-stream.js';
import type { HttpClient } from '../http/client.js';
import type { Store } from '../store/store.js';
import { backoffDelay } from './backoff.js';
import { describeError } from './describe-error.js';
import { runStream, StreamBusyError, StreamRunError, type RunResult } from './run-stream.js';

export type StreamSchedule = { readonly cron: string; readonly tz?: string | undefined } | { readonly everyMs: number };

export interface ScheduledStream {
  readonly source: StreamSource;
  /** Where the stream's records are pushed: its transactions record their changes in the outbox. */
  readonly push?: PushedStream;
  readonly schedules: readonly StreamSchedule[];
  readonly runTimeoutMs: number;
}

/** Told about every run, for metrics. */
export interface RunObserver {
  runStarted?(streamId: string): void;
  runEnded?(streamId: string, outcome: { result?: RunResult; error?: StreamRunError }, durationMs: number): void;
}

export interface SchedulerOptions {
  readonly store: Store;
  readonly http: HttpClient;
  readonly log: Logger;
  readonly concurrency: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly jitterMs: number;
  readonly owner: string;
  readonly observer?: RunObserver;
  readonly random?: () => number;
}

interface Entry {
  readonly stream: ScheduledStream;
  readonly log: Logger;
  readonly cronJobs: schedule.Job[];
  timer?: NodeJS.Timeout | undefined;
  /** When `timer` fires (ms since the epoch). */
  timerDueAt?: number | undefined;
  /** No scheduled run starts before this instant (backoff after a failure). */
  notBefore: number;
  queued: boolean;
  running?: Promise<void> | undefined;
  /** Settles when the queued or running run ends (for `runNow`). */
  finished?: Promise<void> | undefined;
}

/**
 * Decides when each stream runs: cron and interval schedules, at most `concurrency` runs at once,
 * never two runs of one stream at once (a tick that finds it queued or running is dropped), and
 * backoff after a failure, which postpones every schedule of that stream until it has passed.
 */
export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private readonly whenFinished = new Map<Entry, () => void>();
  private active = 0;
  private stopped = false;
  private readonly shutdown = new AbortController();
  private readonly random: () => number;

  constructor(private readonly options: SchedulerOptions) {
    this.random = options.random ?? Math.random;
  }

  /**
   * Registers the streams and arms their schedules; streams never synced or overdue run at once.
   * May be called again with more streams (a job that could only be expanded later).
   */
  async start(streams: readonly ScheduledStream[]): Promise<void> {
    if (this.stopped) return;
    const states = new Map((await this.options.store.listStates()).map((state) => [state.streamId, state]));
    const now = Date.now();
    if (this.stopped) return;
    for (const stream of streams) {
      if (this.entries.has(stream.source.id)) throw new Error(`stream ${stream.source.id} is already scheduled`);
      const entry: Entry = {
        stream,
        log: this.options.log.child({ stream: stream.source.id }),
        cronJobs: [],
        notBefore: 0,
        queued: false,
      };
      this.entries.set(stream.source.id, entry);
      for (const spec of stream.schedules) {
        if ('cron' in spec) {
          const job = schedule.scheduleJob({ rule: spec.cron, tz: spec.tz ?? 'UTC' }, () => this.tick(entry));
          if (job) entry.cronJobs.push(job);
        }
      }
      const state = states.get(stream.source.id);
      const lastSuccess = state?.lastSuccessAt ? Date.parse(state.lastSuccessAt) : undefined;
      const everyMs = minEvery(stream.schedules);
      if (lastSuccess === undefined || state?.status === 'backoff' || state?.status === 'running') {
        this.arm(entry, this.jitter());
      } else if (everyMs !== undefined) {
        this.arm(entry, Math.max(0, lastSuccess + everyMs - now) + this.jitter());
      }
    }
  }

  /** Runs a stream now (outside its schedule), waiting for a free slot; resolves when it ends. */
  async runNow(streamId: string): Promise<void> {
    const entry = this.entries.get(streamId);
    if (!entry) throw new Error(`unknown stream ${streamId}`);
    this.enqueue(entry);
    await entry.finished;
  }

  /**
   * What comes next for a stream: `running`, `queued` (waiting for a free slot), the time of its
   * next scheduled run (after any backoff), or null when nothing is planned (a gone stream, a
   * stopped scheduler, an unknown id).
   */
  nextRun(streamId: string): 'running' | 'queued' | Date | null {
    const entry = this.entries.get(streamId);
    if (!entry || this.stopped) return null;
    if (entry.running) return 'running';
    if (entry.queued) return 'queued';
    // A cron tick inside a backoff is skipped; the timer armed after the failure is due after it.
    const times = entry.cronJobs
      .map((job) => job.nextInvocation()?.getTime())
      .filter((at): at is number => at !== undefined && at >= entry.notBefore);
    if (entry.timerDueAt !== undefined) times.push(entry.timerDueAt);
    return times.length > 0 ? new Date(Math.min(...times)) : null;
  }

  /** Ids of the streams running now. */
  running(): string[] {
    return [...this.entries.values()].filter((entry) => entry.running !== undefined).map((entry) => entry.stream.source.id);
  }

  /**
   * Stops scheduling, aborts in-flight runs (their open transactions roll back) and waits for them
   * up to `timeoutMs`. Resolves true when every run ended in time.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    this.stopped = true;
    for (const entry of this.entries.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      for (const job of entry.cronJobs) job.cancel();
    }
    for (const entry of this.queue) this.whenFinished.get(entry)?.();
    this.queue.length = 0;
    this.shutdown.abort(new Error('the daemon is shutting down'));
    const runs = [...this.entries.values()].flatMap((entry) => (entry.running ? [entry.running] : []));
    if (runs.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const ended = await Promise.race([Promise.allSettled(runs).then(() => true as const), timedOut]);
    clearTimeout(timer);
    return ended;
  }

  private tick(entry: Entry): void {
    if (this.stopped) return;
    if (Date.now() < entry.notBefore) {
      entry.log.info({ until: new Date(entry.notBefore).toISOString() }, 'scheduled run skipped: backing off after a failure');
      return;
    }
    if (entry.queued || entry.running) {
      entry.log.info('scheduled run skipped: the previous run of the stream has not ended');
      return;
    }
    this.enqueue(entry);
  }

  private arm(entry: Entry, delayMs: number): void {
    if (this.stopped) return;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timerDueAt = Date.now() + delayMs;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.timerDueAt = undefined;
      this.tick(entry);
    }, delayMs);
  }

  private enqueue(entry: Entry): void {
    if (this.stopped || entry.queued || entry.running) return;
    entry.queued = true;
    entry.finished = new Promise<void>((resolve) => {
      this.queue.push(entry);
      this.whenFinished.set(entry, resolve);
    });
    this.drain();
  }

  private drain(): void {
    while (this.active < this.options.concurrency && this.queue.length > 0) {
      const entry = this.queue.shift() as Entry;
      entry.queued = false;
      this.active += 1;
      entry.running = this.execute(entry).finally(() => {
        entry.running = undefined;
        this.active -= 1;
        this.whenFinished.get(entry)?.();
        this.whenFinished.delete(entry);
        this.drain();
      });
    }
  }

  private async execute(entry: Entry): Promise<void> {
    const { source, runTimeoutMs } = entry.stream;
    const started = Date.now();
    this.options.observer?.runStarted?.(source.id);
    let delayAfter = minEvery(entry.stream.schedules);
    try {
      const result = await runStream({
        store: this.options.store,
        source,
        http: this.options.http,
        log: entry.log,
        signal: this.shutdown.signal,
        runTimeoutMs,
        owner: this.options.owner,
        ...(entry.stream.push ? { outbox: entry.stream.push.outbox } : {}),
      });
      entry.notBefore = 0;
      entry.log.info(
        { commits: result.commits, upserted: result.upserted, deleted: result.deleted, ms: Date.now() - started },
        'sync finished',
      );
      this.options.observer?.runEnded?.(source.id, { result }, Date.now() - started);
    } catch (error) {
      if (error instanceof StreamBusyError) {
        entry.log.info('skipped: another run holds the stream');
      } else {
        const failure = error instanceof StreamRunError ? error : new StreamRunError(source.id, 'backoff', undefined, error);
        this.options.observer?.runEnded?.(source.id, { error: failure }, Date.now() - started);
        if (failure.status === 'idle' && this.stopped) {
          entry.log.info('run interrupted by shutdown; rolled back to the last checkpoint');
        } else if (failure.status === 'gone') {
          entry.log.warn({ err: describeError(failure.cause) }, 'stream is gone; no further runs until reset or restart');
          for (const job of entry.cronJobs) job.cancel();
          delayAfter = undefined;
        } else {
          const state = await this.options.store.readState(source.id).catch(() => undefined);
          const failures = Math.max(1, state?.consecutiveFailures ?? 1);
          const wait = Math.max(
            backoffDelay(failures, this.options.backoff.initialMs, this.options.backoff.maxMs, this.random),
            failure.retryAfterMs ?? 0,
          );
          entry.notBefore = Date.now() + wait;
          delayAfter = wait;
          entry.log.error({ err: describeError(failure.cause), failures, retryInMs: wait }, 'sync failed; cursor not advanced');
        }
      }
    }
    if (delayAfter !== undefined) this.arm(entry, delayAfter + this.jitter());
  }

  private jitter(): number {
    return Math.round(this.random() * this.options.jitterMs);
  }

}

function minEvery(schedules: readonly StreamSchedule[]): number | undefined {
  const intervals = schedules.flatMap((spec) => ('everyMs' in spec ? [spec.everyMs] : []));
  return intervals.length > 0 ? Math.min(...intervals) : undefined;
}
