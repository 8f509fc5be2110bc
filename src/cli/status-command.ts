import { buildReports } from '../daemon/stream-status.js';
import { ms } from '../daemon/streams.js';
import type { CliContext } from './context.js';
import { formatStatusTable } from './status-table.js';

/** `status [--json]`: every stream in the store, read without a daemon's help (and beside a running one). */
export async function statusCommand(context: CliContext, options: { readonly json?: boolean }): Promise<void> {
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
}
