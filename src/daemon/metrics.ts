import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PushReport } from '../push/push-report.js';
import type { RunObserver } from '../runner/scheduler.js';
import type { StreamReport } from './stream-status.js';

/** Prometheus metrics of the daemon; stream gauges are read from sync_state at each scrape. */
export class Metrics implements RunObserver {
  readonly registry = new Registry();
  private readonly runs: Counter<'stream' | 'outcome'>;
  private readonly rows: Counter<'stream' | 'change'>;
  private readonly duration: Histogram<'stream'>;

  /** `startedAt`: the daemon's start, from which a stream that never succeeded is lagging. */
  constructor(reports: () => Promise<StreamReport[]>, startedAt: Date, pushReports: () => Promise<PushReport[]> = () => Promise.resolve([])) {
    this.runs = new Counter({
      name: 'dss_runs_total',
      help: 'Stream runs by outcome (success, failure, gone, interrupted).',
      labelNames: ['stream', 'outcome'],
      registers: [this.registry],
    });
    this.rows = new Counter({
      name: 'dss_rows_applied_total',
      help: 'Rows written to the store by stream and change (upserted, deleted).',
      labelNames: ['stream', 'change'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'dss_run_duration_seconds',
      help: 'Duration of stream runs.',
      labelNames: ['stream'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [this.registry],
    });
    new Gauge({
      name: 'dss_stream_lag_seconds',
      help: 'Seconds since the stream last synced successfully (since daemon start if it never did).',
      labelNames: ['stream'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const sinceStart = Math.max(0, Math.round((Date.now() - startedAt.getTime()) / 1000));
        // A stream that never succeeded must still show a growing lag, or an alert on this gauge
        // would never fire for a job broken from its first run.
        for (const report of await reports()) this.set({ stream: report.stream }, report.lagSeconds ?? sinceStart);
      },
    });
    new Gauge({
      name: 'dss_stream_consecutive_failures',
      help: 'Consecutive failed runs of the stream.',
      labelNames: ['stream'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const report of await reports()) this.set({ stream: report.stream }, report.consecutiveFailures);
      },
    });
    new Gauge({
      name: 'dss_stream_alerting',
      help: '1 when the stream has had no success for longer than its alertAfter.',
      labelNames: ['stream'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const report of await reports()) this.set({ stream: report.stream }, report.alerting ? 1 : 0);
      },
    });
    this.registerPushGauges(pushReports);
  }

  private registerPushGauges(pushReports: () => Promise<PushReport[]>): void {
    const gauge = (name: string, help: string, value: (report: PushReport) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['target', 'stream'],
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const report of await pushReports()) this.set({ target: report.target, stream: report.stream }, value(report));
        },
      });
    gauge('dss_push_outbox_depth', 'Outbox entries of the push target not delivered yet.', (report) => report.outboxDepth);
    gauge('dss_push_lag_seconds', 'Age of the oldest change not yet delivered to the push target (0 when none).', (report) => report.lagSeconds);
    gauge('dss_push_consecutive_failures', 'Failed deliveries to the push target in a row.', (report) => report.consecutiveFailures);
    gauge('dss_push_records_delivered', 'Records written or deleted at the push target so far.', (report) => report.delivered);
    gauge('dss_push_alerting', '1 when the push lag is past the target\'s alertAfter.', (report) => (report.alerting ? 1 : 0));
    new Gauge({
      name: 'dss_push_last_error',
      help: 'The push target\'s last error (1, the message in a label) while it is failing.',
      labelNames: ['target', 'error'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const report of await pushReports()) {
          if (report.lastError !== null && report.consecutiveFailures > 0) this.set({ target: report.target, error: report.lastError.slice(0, 200) }, 1);
        }
      },
    });
  }

  readonly runEnded: NonNullable<RunObserver['runEnded']> = (streamId, outcome, durationMs) => {
    this.duration.observe({ stream: streamId }, durationMs / 1000);
    if (outcome.result) {
      this.runs.inc({ stream: streamId, outcome: 'success' });
      this.rows.inc({ stream: streamId, change: 'upserted' }, outcome.result.upserted);
      this.rows.inc({ stream: streamId, change: 'deleted' }, outcome.result.deleted);
    } else if (outcome.error) {
      const status = outcome.error.status;
      this.runs.inc({ stream: streamId, outcome: status === 'gone' ? 'gone' : status === 'idle' ? 'interrupted' : 'failure' });
    }
  };
}
