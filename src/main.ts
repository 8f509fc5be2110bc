#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError } from './config/load.js';
import { createCliContext, type CliContext } from './cli/context.js';
import { runDemo } from './cli/demo.js';
import { formatStatusTable } from './cli/status-table.js';
import { Daemon } from './daemon/daemon.js';
import type { Scrubber } from './daemon/secret-scrubber.js';
import { buildReports } from './daemon/stream-status.js';
import { expandJobs, ms } from './daemon/streams.js';
import { redactSecretParameters } from './http/redact.js';
import { describeError } from './runner/describe-error.js';
import { runStream } from './runner/run-stream.js';
import type { Store } from './store/store.js';

const program = new Command()
  .name('dataspace-sync')
  .description('Keeps a SQL store in step with SDMX data spaces, RPDE feeds and Opendatasoft portals.')
  .addOption(
    new Option('-c, --config <file>', 'the job list and settings').env('DSS_CONFIG').default('sync.config.json'),
  )
  .showHelpAfterError();

program
  .command('run')
  .description('run the daemon: sync every stream on its schedule and serve /healthz, /readyz, /status, /metrics')
  .action(async () => {
    // Installed before anything else: node as PID 1 (in a container) ignores a signal it has no
    // handler for, so a SIGTERM during start-up would be lost and `docker stop` would end in SIGKILL.
    let requested: string | undefined;
    let stop: ((signal: string) => void) | undefined = undefined;
    const onSignal = (signal: string) => (stop ? stop(signal) : (requested ??= signal));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    const context = await loadContext();
    if (requested) return;
    const store = await context.openStore();
    if (requested) return store.close();
    const daemon = new Daemon({ ...parts(context), store });
    let stopping = false;
    stop = (signal) => {
      if (stopping) return;
      stopping = true;
      context.log.info({ signal }, 'stopping');
      const bound = ms(context.loaded.config.shutdownTimeout);
      // A hard deadline, in case something ignores the abort: exit rather than hang past the bound.
      setTimeout(() => process.exit(1), bound + 5_000).unref();
      void daemon.stop().then((clean) => {
        process.exitCode = clean ? 0 : 1;
      });
    };
    try {
      await daemon.start();
    } catch (error) {
      // A stop during start-up makes start give up: that is the requested outcome, not an error.
      if (stopping) return;
      // Releases the store (and SQLite's instance lock) so the next start need not wait for it to go stale.
      await daemon.stop().catch(() => undefined);
      throw error;
    }
  });

program
  .command('sync')
  .description('sync the named streams (or jobs, or all when none is named) once, then exit; non-zero if any failed')
  .argument('[names...]', 'stream ids or job ids')
  .action(async (names: string[]) => {
    const context = await loadContext();
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
      let failed = 0;
      const queue = [...chosen];
      const worker = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const log = context.log.child({ stream: next.id });
          try {
            const result = await runStream({ store, source: next.source, http: context.http, log, signal: controller.signal });
            log.info({ commits: result.commits, upserted: result.upserted, deleted: result.deleted }, 'sync finished');
          } catch (error) {
            failed += 1;
            log.error({ err: describeError(error) }, 'sync failed; cursor not advanced');
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(context.loaded.config.concurrency, chosen.length) }, worker));
      if (unexpanded.length > 0) {
        throw new Error(
          unexpanded.map(({ job, error }) => `job ${job.id} could not be expanded into streams: ${describeError(error)}`).join('; '),
        );
      }
      process.exitCode = failed > 0 ? 1 : 0;
    } finally {
      await store.close();
    }
  });

program
  .command('status')
  .description('show every stream: status, cursor, last success, counts, last error')
  .option('--json', 'print JSON instead of a table')
  .action(async (options: { json?: boolean }) => {
    const context = await loadContext();
    const store = await context.openStore({ readOnly: true });
    try {
      // From the store alone: expanding jobs could mean network requests (RPDE discovery).
      const { config } = context.loaded;
      const alertAfterOf = new Map(config.jobs.map((job) => [job.id, ms(job.alertAfter ?? config.defaults.alertAfter)]));
      const states = await store.listStates();
      const streams = states.map((state) => ({
        id: state.streamId,
        jobId: state.jobId,
        kind: state.kind,
        alertAfterMs: alertAfterOf.get(state.jobId) ?? Infinity,
      }));
      const now = new Date();
      const reports = buildReports(streams, states, now, now);
      const out = options.json ? `${JSON.stringify({ streams: reports }, null, 2)}\n` : formatStatusTable(reports);
      process.stdout.write(context.scrub(out));
    } finally {
      await store.close();
    }
  });

program
  .command('reset')
  .description('forget a stream\'s cursor: its next run is a full load that rebuilds its tables')
  .argument('<stream>', 'stream id (see `status`)')
  .action(async (streamId: string) => {
    const context = await loadContext();
    const store = await context.openStore();
    try {
      const state = await store.readState(streamId);
      if (!state) throw new UsageError(`no stream ${streamId} in the store; see \`dataspace-sync status\``);
      await store.transaction((tx) =>
        tx.writeState({ ...state, cursor: null, status: 'idle', consecutiveFailures: 0, lastError: null }),
      );
      process.stdout.write(`${streamId}: cursor cleared; the next run is a full load\n`);
    } finally {
      await store.close();
    }
  });

program
  .command('check-config')
  .description('validate the config and print one line per problem; exit non-zero if there is any')
  .action(async () => {
    const context = await loadContext();
    const jobs = context.loaded.config.jobs;
    process.stdout.write(`${configFile()}: ok (${jobs.length} job${jobs.length === 1 ? '' : 's'})\n`);
  });

program
  .command('healthcheck')
  .description("ask the running daemon's /healthz (at the config's server.host and port); exit 0 when it answers 200")
  .action(async () => {
    try {
      process.stdout.write(`${await checkHealth()}: ok\n`);
    } catch (error) {
      // Docker reserves exit code 2 for health checks: every failure, a bad config included, is 1.
      process.stderr.write(`dataspace-sync: ${scrub(error instanceof ConfigError ? error.message : describeError(error))}\n`);
      process.exitCode = 1;
    }
  });

program
  .command('demo')
  .description('sync from local simulators of a .Stat data space and an RPDE feed, change them, sync again')
  .option('--db <file>', 'keep the mirror in this SQLite file (default: a temporary folder)')
  .action(async (options: { db?: string }) => {
    const ok = await runDemo(options.db ? { db: options.db } : {});
    process.exitCode = ok ? 0 : 1;
  });

class UsageError extends Error {}

/** Below Docker's HEALTHCHECK --timeout (5 s), so a hung daemon is reported by us, not by a kill. */
const HEALTHCHECK_TIMEOUT_MS = 3_000;

/**
 * The error line printed on the way out goes through the same scrubber as the logs: a secret
 * substituted into a URL (a catalog path, a password) is quoted by the error that names it. Until
 * the config is loaded no secret value is known, and only secret query parameters are hidden.
 */
let scrub: Scrubber = redactSecretParameters;

async function loadContext(): Promise<CliContext> {
  const context = await createCliContext(configFile());
  scrub = context.scrub;
  return context;
}

/** GETs /healthz where the config says the daemon listens; resolves with the URL, rejects with why not. */
async function checkHealth(): Promise<string> {
  const { server } = (await loadContext()).loaded.config;
  if (server.port === 0) throw new Error('server.port is 0 (any free port): there is no known port to check');
  // A daemon listening on every interface is reached on loopback: the container checks itself.
  const host = server.host === '0.0.0.0' || server.host === '::' ? '127.0.0.1' : server.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${server.port}/healthz`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(HEALTHCHECK_TIMEOUT_MS) });
  } catch (error) {
    throw new Error(`${url}: no answer`, { cause: error });
  }
  await response.body?.cancel();
  if (response.status !== 200) throw new Error(`${url}: HTTP ${response.status}`);
  return url;
}

function configFile(): string {
  return program.opts<{ config: string }>().config;
}

function parts(context: CliContext): Omit<ConstructorParameters<typeof Daemon>[0], 'store'> & { store?: Store } {
  return { config: context.loaded.config, kinds: context.kinds, http: context.http, log: context.log, scrub: context.scrub };
}

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.problems.map((problem) => `${error.file}: ${problem}`).join('\n')}\n`);
    process.exit(2);
  }
  process.stderr.write(`dataspace-sync: ${scrub(describeError(error))}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
