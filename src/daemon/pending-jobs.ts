import type { Logger } from 'pino';
import { backoffDelay } from '../runner/backoff.js';
import { describeError } from '../runner/describe-error.js';
import type { JobConfig } from './streams.js';

/** A configured job in /status: whether it became streams, and if not yet, why. */
export interface JobReport {
  readonly job: string;
  readonly kind: string;
  /** False while the job could not be expanded (e.g. its discovery document is unreachable): its streams are unknown. */
  readonly expanded: boolean;
  readonly streams: number;
  readonly failures: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: string | null;
}

/** A job that has not been expanded into streams yet. */
export interface PendingJobReport {
  readonly job: string;
  readonly kind: string;
  readonly failures: number;
  readonly lastError: string;
  readonly lastAttemptAt: string;
  readonly nextAttemptAt: string;
}

export interface PendingJobsOptions {
  /** Expands the job and hands its streams to the scheduler; rejects when it still cannot. */
  readonly expand: (job: JobConfig) => Promise<void>;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly log: Logger;
  readonly random?: () => number;
}

interface Pending {
  readonly job: JobConfig;
  failures: number;
  lastError: string;
  lastAttemptAt: Date;
  nextAttemptAt: Date;
  timer?: NodeJS.Timeout | undefined;
}

/**
 * Jobs whose expansion failed (an RPDE catalog briefly unreachable, say). A remote failure must
 * not stop the daemon (docs/architecture.md, "Bad input and faults"), so the other jobs run while each of these is retried with the
 * streams' backoff until it expands; /readyz and /status show it meanwhile.
 */
export class PendingJobs {
  private readonly pending = new Map<string, Pending>();
  private stopped = false;

  constructor(private readonly options: PendingJobsOptions) {}

  /** Records a failed expansion of `job` and arms its next attempt. */
  failed(job: JobConfig, error: unknown): void {
    if (this.stopped) return;
    const now = new Date();
    const entry = this.pending.get(job.id) ?? { job, failures: 0, lastError: '', lastAttemptAt: now, nextAttemptAt: now };
    entry.failures += 1;
    entry.lastError = describeError(error);
    entry.lastAttemptAt = now;
    const { initialMs, maxMs } = this.options.backoff;
    const wait = backoffDelay(entry.failures, initialMs, maxMs, this.options.random);
    entry.nextAttemptAt = new Date(now.getTime() + wait);
    entry.timer = setTimeout(() => void this.retry(entry), wait);
    this.pending.set(job.id, entry);
    this.options.log.error(
      { job: job.id, err: entry.lastError, failures: entry.failures, retryInMs: wait },
      `job ${job.id} could not be expanded into streams; the other jobs run, this one is retried`,
    );
  }

  private async retry(entry: Pending): Promise<void> {
    entry.timer = undefined;
    try {
      await this.options.expand(entry.job);
    } catch (error) {
      if (this.stopped) return;
      this.failed(entry.job, error);
      return;
    }
    this.pending.delete(entry.job.id);
    if (!this.stopped) this.options.log.info({ job: entry.job.id, failures: entry.failures }, `job ${entry.job.id} expanded after all`);
  }

  reports(): PendingJobReport[] {
    return [...this.pending.values()].map((entry) => ({
      job: entry.job.id,
      kind: entry.job.kind,
      failures: entry.failures,
      lastError: entry.lastError,
      lastAttemptAt: entry.lastAttemptAt.toISOString(),
      nextAttemptAt: entry.nextAttemptAt.toISOString(),
    }));
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.pending.values()) clearTimeout(entry.timer);
  }
}
