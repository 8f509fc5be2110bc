import { hostname } from 'node:os';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { DaemonConfig } from '../config/schema.js';
import { lastHours } from '../core/change-history.js';
import type { SourceKind } from '../core/source-kind.js';
import type { HttpClient } from '../http/client.js';
import { Scheduler } from '../runner/scheduler.js';
import type { Store } from '../store/store.js';
import { EndpointAuth } from './endpoint-auth.js';
import { createHealthServer, listen } from './http-server.js';
import type { PushReport } from '../push/push-report.js';
import { PushRunner } from '../push/push-runner.js';
import { Metrics } from './metrics.js';
import type { Scrubber } from './secret-scrubber.js';
import { buildReports, type StreamReport } from './stream-status.js';
import { PendingJobs, type JobReport } from './pending-jobs.js';
import { expandJob, expandJobs, ms, type ConfiguredStream } from './streams.js';

export interface DaemonParts {
  readonly config: DaemonConfig;
  readonly kinds: readonly SourceKind[];
  readonly store: Store;
  readonly http: HttpClient;
  readonly log: Logger;
  readonly scrub: Scrubber;
}

/** The long-running process of `dataspace-sync run`: scheduler + endpoints over one opened store. */
export class Daemon {
  private scheduler?: Scheduler;
  private server?: Server;
  private streams: ConfiguredStream[] = [];
  private pendingJobs?: PendingJobs;
  private pushRunner?: PushRunner;
  private starting?: Promise<unknown>;
  private stopped = false;
  private readonly startedAt = new Date();
  private readonly expansion = new AbortController();
  readonly owner = `${hostname()}:${process.pid}`;

  constructor(private readonly parts: DaemonParts) {}

  /**
   * Expands jobs, starts the endpoints, then the schedules. Resolves with the endpoints' address;
   * rejects if stop() came first. A job that cannot be expanded does not stop the start: it is
   * retried with backoff while the others run.
   */
  async start(): Promise<{ port: number; host: string }> {
    const starting = this.startOnce();
    this.starting = starting.catch(() => undefined);
    return starting;
  }

  private async startOnce(): Promise<{ port: number; host: string }> {
    const { config, kinds, store, http, log } = this.parts;
    const ctx = { http, log, signal: this.expansion.signal };
    const backoff = { initialMs: ms(config.defaults.backoff.initial), maxMs: ms(config.defaults.backoff.max) };
    const { streams, failures } = await expandJobs(config, kinds, ctx);
    if (this.stopped) throw new Error('the daemon was stopped while starting');
    this.streams = streams;
    const pushRunner = new PushRunner({ store, http, log, owner: this.owner, retry: { initialMs: 1_000, maxMs: ms(config.client.maxRetryDelay) * 5 } });
    this.pushRunner = pushRunner;
    for (const stream of streams) if (stream.push) pushRunner.add(stream.id, stream.push);
    const metrics = new Metrics(() => this.reports(), this.startedAt, () => pushRunner.reports());
    this.server = createHealthServer({
      pingStore: () => store.ping(),
      reports: () => this.reports(),
      pushReports: () => pushRunner.reports(),
      jobs: () => this.jobs(),
      history: async () => {
        const now = new Date();
        const histories = await store.changeHistories();
        // Every stream gets a line, flat where it changed nothing in the last hours.
        return new Map(this.streams.map((stream) => [stream.id, lastHours(histories.get(stream.id), now)] as const));
      },
      metrics,
      scrub: this.parts.scrub,
      log,
      auth: new EndpointAuth(config.server.tokens),
    });
    const address = await listen(this.server, config.server.port, config.server.host);
    const scheduler = new Scheduler({
      store,
      http,
      log,
      concurrency: config.concurrency,
      backoff,
      jitterMs: ms(config.defaults.jitter),
      owner: this.owner,
      observer: {
        runEnded: (streamId, outcome, durationMs) => {
          metrics.runEnded(streamId, outcome, durationMs);
          // Even a failed run may have committed units before it failed: their changes are due.
          pushRunner.drainSoon(streamId);
        },
      },
    });
    this.scheduler = scheduler;
    await scheduler.start(this.streams);
    // What a stopped daemon left undelivered goes out now, not at the stream's next sync.
    pushRunner.drainAll();
    this.pendingJobs = new PendingJobs({
      backoff,
      log,
      expand: async (job) => {
        const added = await expandJob(job, config, kinds, ctx, this.streams);
        if (this.stopped) return;
        this.streams.push(...added);
        for (const stream of added) if (stream.push) pushRunner.add(stream.id, stream.push);
        await scheduler.start(added);
      },
    });
    for (const failure of failures) this.pendingJobs.failed(failure.job, failure.error);
    log.info(
      { streams: this.streams.length, endpoints: `http://${address.address}:${address.port}` },
      'daemon started',
    );
    return { port: address.port, host: address.address };
  }

  /** Every enabled job; a job that could not be expanded yet carries its last error and next attempt. */
  jobs(): JobReport[] {
    const pending = new Map((this.pendingJobs?.reports() ?? []).map((report) => [report.job, report]));
    return this.parts.config.jobs
      .filter((job) => job.enabled)
      .map((job) => {
        const problem = pending.get(job.id);
        return {
          job: job.id,
          kind: job.kind,
          expanded: problem === undefined,
          streams: this.streams.filter((stream) => stream.jobId === job.id).length,
          failures: problem?.failures ?? 0,
          lastError: problem?.lastError ?? null,
          nextAttemptAt: problem?.nextAttemptAt ?? null,
        };
      });
  }

  async reports(): Promise<StreamReport[]> {
    const scheduler = this.scheduler;
    const nextRun = (id: string) => scheduler?.nextRun(id) ?? null;
    return buildReports(this.streams, await this.parts.store.listStates(), new Date(), this.startedAt, nextRun);
  }

  /** Every push target: outbox depth, push lag, records delivered, last error. */
  async pushReports(): Promise<PushReport[]> {
    return this.pushRunner ? this.pushRunner.reports() : [];
  }

  /**
   * Graceful stop (SIGTERM): no new runs, in-flight runs aborted and rolled back to their last
   * checkpoint, endpoints closed, store closed. Resolves false if runs did not end within the bound.
   */
  async stop(): Promise<boolean> {
    const { config, store, log } = this.parts;
    this.stopped = true;
    this.expansion.abort();
    // A stop during start-up waits for it to give up (the expansion was just aborted) or finish, so
    // nothing it opens is left behind.
    await this.starting;
    this.pendingJobs?.stop();
    const clean = this.scheduler ? await this.scheduler.stop(ms(config.shutdownTimeout)) : true;
    await this.pushRunner?.stop();
    if (!clean) log.warn('runs did not end within shutdownTimeout; exiting anyway (open transactions roll back)');
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if (clean) await store.close();
    log.info('daemon stopped');
    return clean;
  }
}
