import type { Logger } from 'pino';
import type { DaemonConfig } from '../config/schema.js';
import { parseDuration } from '../core/duration.js';
import type { SourceKind } from '../core/source-kind.js';
import type { HttpClient } from '../http/client.js';
import type { ScheduledStream, StreamSchedule } from '../runner/scheduler.js';
import type { KnownStream } from './stream-status.js';

export interface ConfiguredStream extends ScheduledStream, KnownStream {}

const COMMON_JOB_KEYS = new Set(['id', 'kind', 'enabled', 'schedules', 'alertAfter', 'runTimeout']);

/** Expands every enabled job of the config into its streams, with schedules and alert thresholds resolved. */
export async function expandJobs(
  config: DaemonConfig,
  kinds: readonly SourceKind[],
  http: HttpClient,
  log: Logger,
  signal: AbortSignal,
): Promise<ConfiguredStream[]> {
  const byKind = new Map(kinds.map((kind) => [kind.kind, kind]));
  const streams: ConfiguredStream[] = [];
  const seen = new Map<string, string>();
  for (const job of config.jobs) {
    if (!job.enabled) continue;
    const kind = byKind.get(job.kind);
    if (!kind) throw new Error(`job ${job.id}: no source of kind ${job.kind}`);
    const options = Object.fromEntries(Object.entries(job).filter(([key]) => !COMMON_JOB_KEYS.has(key)));
    const sources = await kind.expand({ id: job.id, kind: job.kind }, kind.options.parse(options), {
      http,
      log: log.child({ job: job.id }),
      signal,
    });
    const configured = (job.schedules ?? config.defaults.schedules).map(toStreamSchedule);
    const alertAfterMs = ms(job.alertAfter ?? config.defaults.alertAfter);
    const runTimeoutMs = ms(job.runTimeout ?? config.defaults.runTimeout);
    for (const source of sources) {
      const other = seen.get(source.id);
      if (other !== undefined) throw new Error(`stream ${source.id} is produced by both job ${other} and job ${job.id}`);
      seen.set(source.id, job.id);
      const schedules: StreamSchedule[] =
        job.schedules === undefined && source.pollIntervalMs !== undefined ? [{ everyMs: source.pollIntervalMs }] : configured;
      streams.push({ source, schedules, runTimeoutMs, id: source.id, jobId: job.id, kind: job.kind, alertAfterMs });
    }
  }
  return streams;
}

function toStreamSchedule(spec: { cron: string; tz?: string } | { every: string }): StreamSchedule {
  return 'cron' in spec ? { cron: spec.cron, ...(spec.tz ? { tz: spec.tz } : {}) } : { everyMs: ms(spec.every) };
}

/** For durations the config schema already validated. */
export function ms(text: string): number {
  const value = parseDuration(text);
  if (value === undefined) throw new Error(`not a duration: ${text}`);
  return value;
}
