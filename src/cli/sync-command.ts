import { expandJobs } from '../daemon/streams.js';
import { describeError } from '../runner/describe-error.js';
import { syncOnce } from '../runner/sync-once.js';
import type { CliContext } from './context.js';
import { UsageError } from './usage-error.js';

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
      http: context.http,
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
      chosen,
      { store, http: context.http, log: context.log, signal: controller.signal, concurrency: context.loaded.config.concurrency },
    );
    if (unexpanded.length > 0) {
      throw new Error(unexpanded.map(({ job, error }) => `job ${job.id} could not be expanded into streams: ${describeError(error)}`).join('; '));
    }
    return failed > 0 ? 1 : 0;
  } finally {
    await store.close();
  }
}
