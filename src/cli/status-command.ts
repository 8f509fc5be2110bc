import { existsSync } from 'node:fs';
import { buildReports, type StreamReport } from '../daemon/stream-status.js';
import { alertThresholds } from '../daemon/streams.js';
import type { CliContext } from './context.js';
import { formatStreamDetail } from './status-detail.js';
import { formatStatusTable } from './status-table.js';
import { terminalWidth } from './terminal-width.js';
import { UsageError } from './usage-error.js';

export interface StatusOptions {
  readonly json?: boolean;
  /** One stream in detail instead of the table. */
  readonly stream?: string | undefined;
}

/**
 * `status [stream] [--json]`: the streams in the store, read without a daemon's help (and beside
 * a running one). The table fits the terminal (COLUMNS, or no limit when the output is not a
 * terminal); one stream, or --json, shows everything uncut.
 */
export async function statusCommand(context: CliContext, options: StatusOptions): Promise<void> {
  const settings = context.loaded.config.store;
  // Before the first sync there is nothing to read, which is not an error worth a driver's message.
  if (settings.engine === 'sqlite' && !existsSync(settings.path)) {
    const note = `no store yet at ${settings.path}: nothing has been synced. Run \`dataspace-sync sync\` once, or start the daemon (\`dataspace-sync run\`).\n`;
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ streams: [] }, null, 2)}\n`);
      process.stderr.write(note);
    } else {
      process.stdout.write(note);
    }
    return;
  }
  const store = await context.openStore({ readOnly: true });
  try {
    // From the store alone: expanding jobs could mean network requests (RPDE discovery).
    const { config } = context.loaded;
    const jobs = new Map(config.jobs.map((job) => [job.id, job]));
    const states = await store.listStates();
    const streams = states.map((state) => {
      const job = jobs.get(state.jobId);
      // A stream of a job no longer in the config never alerts: nothing syncs it any more.
      const thresholds = job ? alertThresholds(job, config) : { alertAfterMs: Infinity, firstSyncGraceMs: Infinity };
      return { id: state.streamId, jobId: state.jobId, kind: state.kind, ...thresholds };
    });
    const now = new Date();
    let reports = buildReports(streams, states, now, now);
    if (options.stream !== undefined) {
      reports = reports.filter((report) => report.stream === options.stream);
      if (reports.length === 0) throw new UsageError(`no stream ${options.stream} in the store; \`dataspace-sync status\` lists them`);
    }
    const out = options.json
      ? `${JSON.stringify({ streams: reports }, null, 2)}\n`
      : options.stream !== undefined
        ? formatStreamDetail(reports[0] as StreamReport, now)
        : formatStatusTable(reports, { now, ...terminalWidth() });
    process.stdout.write(context.scrub(out));
  } finally {
    await store.close();
  }
}
