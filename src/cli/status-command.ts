import { existsSync } from 'node:fs';
import { buildReports } from '../daemon/stream-status.js';
import { alertThresholds } from '../daemon/streams.js';
import type { CliContext } from './context.js';
import { formatStatusTable } from './status-table.js';

/** `status [--json]`: every stream in the store, read without a daemon's help (and beside a running one). */
export async function statusCommand(context: CliContext, options: { readonly json?: boolean }): Promise<void> {
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
    const reports = buildReports(streams, states, now, now);
    const out = options.json ? `${JSON.stringify({ streams: reports }, null, 2)}\n` : formatStatusTable(reports);
    process.stdout.write(context.scrub(out));
  } finally {
    await store.close();
  }
}
