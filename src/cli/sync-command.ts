import { expandJobs, type ConfiguredStream } from '../daemon/streams.js';
import { buildPushReports } from '../push/push-report.js';
import { drainStream } from '../push/push-runner.js';
import type { PushedStream } from '../push/pushed-stream.js';
import type { Store } from '../store/store.js';
import { describeError } from '../runner/describe-error.js';
import { syncOnce } from '../runner/sync-once.js';
import type { CliContext } from './context.js';
import { UsageError } from './usage-error.js';

/**
 * A `sync` of a pushed job delivers its outbox before it exits, and says per target what went out
 * and what remains undelivered; resolves with the number of targets left with undelivered changes.
 */
async function drainPushed(context: CliContext, store: Store, streams: readonly ConfiguredStream[], signal: AbortSignal): Promise<number> {
  const pushed = streams.filter((stream) => stream.push !== undefined);
  if (pushed.length === 0) return 0;
  const delivered = new Map<string, number>();
  for (const stream of pushed) {
    const push = stream.push as PushedStream;
    try {
      const results = await drainStream(stream.id, push, { store, http: await context.http(), log: context.log, owner: `sync:${process.pid}`, signal });
      for (const [target, result] of results ?? []) {
        if (result instanceof Error) context.log.error({ stream: stream.id, target, err: describeError(result) }, 'push failed; the outbox is kept');
        else delivered.set(target, result.delivered);
      }
    } catch (error) {
      context.log.error({ stream: stream.id, err: describeError(error) }, 'push failed; the outbox is kept');
    }
  }
  const configured = pushed.flatMap((stream) => (stream.push as PushedStream).targets.map((target) => ({ target: target.delivery.id, stream: stream.id, alertAfterMs: target.alertAfterMs })));
  const reports = buildPushReports(configured, await store.targetStates(), await store.outboxSummaries(), new Date()).filter((report) => configured.some((entry) => entry.target === report.target));
  let undelivered = 0;
  for (const report of reports) {
    const sent = delivered.get(report.target) ?? 0;
    if (report.outboxDepth === 0) {
      process.stdout.write(context.scrub(`push ${report.target}: ${sent} record${sent === 1 ? '' : 's'} delivered; nothing left undelivered\n`));
    } else {
      undelivered += 1;
      const why = report.lastError ? `; last error: ${report.lastError}` : '';
      process.stdout.write(
        context.scrub(`push ${report.target}: ${sent} record${sent === 1 ? '' : 's'} delivered; ${report.outboxDepth} change${report.outboxDepth === 1 ? '' : 's'} remain undelivered (oldest ${report.lagSeconds} s)${why}\n`),
      );
    }
    for (const note of report.setAside) process.stdout.write(context.scrub(`push ${report.target}: set aside ${note}\n`));
  }
  return undelivered;
}

/**
 * `sync [names...]`: the named streams or jobs (every one when none is named) once. Resolves with
 * the exit code: 1 if a stream failed; rejects when a named job could not be expanded into streams
 * (after the others were synced) or a name is unknown.
 */
export async function syncCommand(context: CliContext, names: readonly string[]): Promise<number> {
  const store = await context.openStore();
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted')));
  process.once('SIGTERM', () => controller.abort(new Error('terminated')));
  try {
    const { streams, failures } = await expandJobs(context.loaded.config, context.kinds, {
      http: await context.http(),
      log: context.log,
      signal: controller.signal,
    });
    for (const { job, error } of failures) {
      context.log.error({ job: job.id, err: describeError(error) }, `job ${job.id} could not be expanded into streams; they are not synced`);
    }
    const chosen = names.length === 0 ? streams : streams.filter((s) => names.includes(s.id) || names.includes(s.jobId));
    const unexpanded = failures.filter(({ job }) => names.length === 0 || names.includes(job.id));
    const unknown = names.filter((name) => !streams.some((s) => s.id === name || s.jobId === name) && !unexpanded.some(({ job }) => job.id === name));
    if (unknown.length > 0) {
      // A stream of a job that could not be expanded is unknown too: say so rather than "no such stream".
      const hint = failures.length > 0 ? ` (or it belongs to job ${failures.map(({ job }) => job.id).join(', ')}, which could not be expanded)` : '';
      throw new UsageError(`no stream or job named ${unknown.join(', ')}${hint}; see \`dataspace-sync status\``);
    }
    const { failed } = await syncOnce(
      chosen.map((stream) => ({ source: stream.source, runTimeoutMs: stream.runTimeoutMs, outbox: stream.push?.outbox })),
      { store, http: await context.http(), log: context.log, signal: controller.signal, concurrency: context.loaded.config.concurrency },
    );
    const undelivered = await drainPushed(context, store, chosen, controller.signal);
    if (unexpanded.length > 0) {
      throw new Error(unexpanded.map(({ job, error }) => `job ${job.id} could not be expanded into streams: ${describeError(error)}`).join('; '));
    }
    return failed > 0 || undelivered > 0 ? 1 : 0;
  } finally {
    await store.close();
  }
}
