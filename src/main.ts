#!/usr/bin/env node
import { Command, Option } from 'commander';
import { createCliContext, type CliContext } from './cli/context.js';
import { PUSH_KEY_VARIABLE } from './cli/demo/demo-part.js';
import { UsageError } from './cli/usage-error.js';
import { ConfigError } from './config/load.js';
import type { Scrubber } from './daemon/secret-scrubber.js';
import { redactSecretParameters } from './http/redact.js';
import { describeError } from './runner/describe-error.js';

// Each command imports its modules when it runs: a CLI call loads only what its command needs (the
// simulators of `demo`, the daemon of `run`), not every command's, which took most of a call's start-up.
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
  .action(async () => (await import('./cli/run-command.js')).runCommand(loadContext));

program
  .command('sync')
  .description('sync the named streams (or jobs, or all when none is named) once, then exit; non-zero if any failed')
  .argument('[names...]', 'stream ids or job ids')
  .action(async (names: string[]) => {
    const { syncCommand } = await import('./cli/sync-command.js');
    process.exitCode = await syncCommand(await loadContext(), names);
  });

program
  .command('status')
  .description('show every stream (status, last success, counts, conformance, last error), or one stream in full')
  .argument('[stream]', 'one stream id: every fact about it, the full cursor included')
  .option('--json', 'print JSON (every field, the full cursor) instead of a table')
  .action(async (stream: string | undefined, options: { json?: boolean }) => {
    const { statusCommand } = await import('./cli/status-command.js');
    await statusCommand(await loadContext(), { ...options, stream });
  });

program
  .command('reset')
  .description('forget a stream\'s cursor: its next run is a full load that rebuilds its tables')
  .argument('<stream>', 'stream id (see `status`)')
  .action(async (streamId: string) => (await import('./cli/reset-command.js')).resetCommand(await loadContext(), streamId));

program
  .command('check-config')
  .description('validate the config and print one line per problem; exit non-zero if there is any')
  .action(async () => {
    const jobs = (await loadContext()).loaded.config.jobs;
    process.stdout.write(`${configFile()}: ok (${jobs.length} job${jobs.length === 1 ? '' : 's'})\n`);
  });

program
  .command('healthcheck')
  .description("ask the running daemon's /healthz (at the config's server.host and port); exit 0 when it answers 200")
  .action(async () => {
    try {
      const { checkHealth } = await import('./daemon/healthcheck-client.js');
      process.stdout.write(`${await checkHealth((await loadContext()).loaded.config.server)}: ok\n`);
    } catch (error) {
      // Docker reserves exit code 2 for health checks: every failure, a bad config included, is 1.
      process.stderr.write(`dataspace-sync: ${scrub(error instanceof ConfigError ? error.message : describeError(error))}\n`);
      process.exitCode = 1;
    }
  });

program
  .command('demo')
  .description('mirror local simulators of every kind of source while they change, with a live view and the status page; Ctrl-C stops')
  .option('--db <file>', 'keep the mirror in this SQLite file (default: a temporary folder)')
  .option('--port <port>', 'the status page on 127.0.0.1 (default 8080, or a free port when it is taken)', (text) => Number(text))
  .option('--for <duration>', 'stop by itself after this long (e.g. 60s), as Ctrl-C does')
  .action(async (options: { db?: string; port?: number; for?: string }) => {
    const { runDemo } = await import('./cli/demo/run-demo.js');
    const pushKey = process.env[PUSH_KEY_VARIABLE];
    process.exitCode = (await runDemo({ ...options, ...(pushKey ? { pushKey } : {}) })) ? 0 : 1;
  });

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

function configFile(): string {
  return program.opts<{ config: string }>().config;
}

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.problems.map((problem) => `${error.file}: ${problem}`).join('\n')}\n`);
    process.exit(2);
  }
  process.stderr.write(`dataspace-sync: ${scrub(describeError(error))}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
