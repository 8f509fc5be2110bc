import type { Logger } from 'pino';
import { givenLimits, type DaemonConfig } from '../config/schema.js';
import { parseDuration } from '../core/duration.js';
import type { SourceKind } from '../core/source-kind.js';
import type { HttpClient } from '../http/client.js';
import type { ScheduledStream, StreamSchedule } from '../runner/scheduler.js';
import { pushedStream } from '../push/pushed-stream.js';
import type { KnownStream } from './stream-status.js';

export interface ConfiguredStream extends ScheduledStream, KnownStream {}

const COMMON_JOB_KEYS = new Set(['id', 'kind', 'enabled', 'schedules', 'alertAfter', 'firstSyncGrace', 'runTimeout', 'limits', 'push']);

export type JobConfig = DaemonConfig['jobs'][number];

/** A job that could not be turned into streams (its discovery document unreachable, say). */
export interface JobExpansionFailure {
  readonly job: JobConfig;
  readonly error: unknown;
}

export interface ExpansionContext {
  readonly http: HttpClient;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

/**
 * Expands every enabled job of the config into its streams. A job that fails is returned in
 * `failures` and the others still expand: one unreachable remote must not take every job down
 * (docs/architecture.md, "Bad input and faults"). An abort (shutdown) is thrown, not counted as a failure.
 */
export async function expandJobs(
  config: DaemonConfig,
  kinds: readonly SourceKind[],
  ctx: ExpansionContext,
): Promise<{ streams: ConfiguredStream[]; failures: JobExpansionFailure[] }> {
  const streams: ConfiguredStream[] = [];
  const failures: JobExpansionFailure[] = [];
  for (const job of config.jobs) {
    if (!job.enabled) continue;
    try {
      streams.push(...(await expandJob(job, config, kinds, ctx, streams)));
    } catch (error) {
      ctx.signal.throwIfAborted();
      failures.push({ job, error });
    }
  }
  return { streams, failures };
}

/** One job's streams, with schedules and alert thresholds resolved; `existing` are the other jobs' streams. */
export async function expandJob(
  job: JobConfig,
  config: DaemonConfig,
  kinds: readonly SourceKind[],
  ctx: ExpansionContext,
  existing: readonly ConfiguredStream[],
): Promise<ConfiguredStream[]> {
  const kind = kinds.find((candidate) => candidate.kind === job.kind);
  if (!kind) throw new Error(`job ${job.id}: no source of kind ${job.kind}`);
  const options = Object.fromEntries(Object.entries(job).filter(([key]) => !COMMON_JOB_KEYS.has(key)));
  const sources = await kind.expand({ id: job.id, kind: job.kind }, kind.options.parse(options), {
    http: ctx.http,
    log: ctx.log.child({ job: job.id }),
    signal: ctx.signal,
    limits: { ...givenLimits(config.defaults.limits), ...givenLimits(job.limits) },
  });
  const configured = (job.schedules ?? config.defaults.schedules).map(toStreamSchedule);
  const { alertAfterMs, firstSyncGraceMs } = alertThresholds(job, config);
  const runTimeoutMs = ms(job.runTimeout ?? config.defaults.runTimeout);
  const streams: ConfiguredStream[] = [];
  const publishing = sources.filter((source) => source.records !== undefined);
  if (job.push !== undefined && publishing.length > 1) {
    // Records of several streams in one ODS dataset would meet under the same keys.
    throw new Error(`job ${job.id} pushes its records, but has ${publishing.length} streams that publish records (${publishing.map((source) => source.id).join(', ')}); give each its own job`);
  }
  for (const source of sources) {
    const other = [...existing, ...streams].find((stream) => stream.id === source.id);
    if (other !== undefined) throw new Error(`stream ${source.id} is produced by both job ${other.jobId} and job ${job.id}`);
    const schedules: StreamSchedule[] =
      job.schedules === undefined && source.pollIntervalMs !== undefined ? [{ everyMs: source.pollIntervalMs }] : configured;
    const push = pushedStream(source, job.push, (target) => (target.alertAfter !== undefined ? ms(target.alertAfter) : alertAfterMs));
    streams.push({ source, schedules, runTimeoutMs, id: source.id, jobId: job.id, kind: job.kind, alertAfterMs, firstSyncGraceMs, ...(push ? { push } : {}) });
  }
  return streams;
}

/** When a job's streams turn /readyz red: the job's own thresholds, else the config's defaults. */
export function alertThresholds(
  job: Pick<JobConfig, 'alertAfter' | 'firstSyncGrace'> | undefined,
  config: DaemonConfig,
): { alertAfterMs: number; firstSyncGraceMs: number } {
  return {
    alertAfterMs: ms(job?.alertAfter ?? config.defaults.alertAfter),
    firstSyncGraceMs: ms(job?.firstSyncGrace ?? config.defaults.firstSyncGrace),
  };
}

function toStreamSchedule(spec: { cron: string; tz?: string | undefined } | { every: string }): StreamSchedule {
  return 'cron' in spec ? { cron: spec.cron, ...(spec.tz ? { tz: spec.tz } : {}) } : { everyMs: ms(spec.every) };
}

/** For durations the config schema already validated. */
export function ms(text: string): number {
  const value = parseDuration(text);
  if (value === undefined) throw new Error(`not a duration: ${text}`);
  return value;
}
