import { hostname } from 'node:os';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { DaemonConfig } from '../config/schema.js';
import type { SourceKind } from '../core/source-kind.js';
import type { HttpClient } from '../http/client.js';
import { Scheduler } from '../runner/scheduler.js';
import type { Store } from '../store/store.js';
import { createHealthServer, listen } from './http-server.js';
import { Metrics } from './metrics.js';
import type { Scrubber } from './secret-scrubber.js';
import { buildReports, type StreamReport } from './stream-status.js';
import { expandJobs, ms, type ConfiguredStream } from './streams.js';

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
  private readonly startedAt = new Date();
  private readonly expansion = new AbortController();
  readonly owner = `${hostname()}:${process.pid}`;

  constructor(private readonly parts: DaemonParts) {}

  /** Expands jobs, starts the endpoints, then the schedules. Resolves with the endpoints' address. */
  async start(): Promise<{ port: number; host: string }> {
    const { config, kinds, store, http, log } = this.parts;
    this.streams = await expandJobs(config, kinds, http, log, this.expansion.signal);
    const metrics = new Metrics(() => this.reports(), this.startedAt);
    this.server = createHealthServer({
      pingStore: () => store.ping(),
      reports: () => this.reports(),
      metrics,
      scrub: this.parts.scrub,
      log,
    });
    const address = await listen(this.server, config.server.port, config.server.host);
    this.scheduler = new Scheduler({
      store,
      http,
      log,
      concurrency: config.concurrency,
      backoff: { initialMs: ms(config.defaults.backoff.initial), maxMs: ms(config.defaults.backoff.max) },
      jitterMs: ms(config.defaults.jitter),
      owner: this.owner,
      observer: metrics,
    });
    await this.scheduler.start(this.streams);
    log.info(
      { streams: this.streams.length, endpoints: `http://${address.address}:${address.port}` },
      'daemon started',
    );
    return { port: address.port, host: address.address };
  }

  async reports(): Promise<StreamReport[]> {
    return buildReports(this.streams, await this.parts.store.listStates(), new Date(), this.startedAt);
  }

  /**
   * Graceful stop (SIGTERM): no new runs, in-flight runs aborted and rolled back to their last
   * checkpoint, endpoints closed, store closed. Resolves false if runs did not end within the bound.
   */
  async stop(): Promise<boolean> {
    const { config, store, log } = this.parts;
    this.expansion.abort();
    const clean = this.scheduler ? await this.scheduler.stop(ms(config.shutdownTimeout)) : true;
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
