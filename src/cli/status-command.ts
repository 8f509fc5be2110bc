import { existsSync } from 'node:fs';
import { parseDuration } from '../core/duration.js';
import { targetId } from '../push/push-config.js';
import { buildPushReports, type PushReport } from '../push/push-report.js';
import { buildReports, type StreamReport } from '../daemon/stream-status.js';
import { alertThresholds } from '../daemon/streams.js';
import type { CliContext } from './context.js';
import { formatStreamDetail } from './status-detail.js';
import { formatStatusTable } from './status-table.js';
import { terminalWidth } from './terminal-width.js';
import { UsageError } from './usage-error.js';

/** One line per push target: how much waits, for how long, and the last error while failing. */
export function formatPushTargets(targets: readonly PushReport[]): string {
  if (targets.length === 0) return '';
  const lines = targets.map((target) => {
    const waiting = target.outboxDepth === 0 ? 'all delivered' : `${target.outboxDepth} undelivered, oldest ${target.lagSeconds} s${target.alerting ? ' (ALERT)' : ''}`;
    const error = target.consecutiveFailures > 0 && target.lastError ? `; failing (${target.consecutiveFailures}): ${target.lastError}` : '';
    const aside = target.setAside.length > 0 ? `; set aside: ${target.setAside.join('; ')}` : '';
    return `  ${target.target}: ${waiting}; ${target.delivered} records delivered${error}${aside}`;
  });
  return `\npush targets:\n${lines.join('\n')}\n`;
}

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
    const configuredTargets = states.flatMap((state) => {
      const job = jobs.get(state.jobId);
      const thresholds = job ? alertThresholds(job, config) : undefined;
      return (job?.push ?? []).map((target) => ({
        target: targetId(state.streamId, target),
        stream: state.streamId,
        alertAfterMs: target.alertAfter !== undefined ? (parseDuration(target.alertAfter) ?? Infinity) : (thresholds?.alertAfterMs ?? Infinity),
      }));
    });
    // A store older than the push tables (opened read-only, so not migrated) has no targets.
    let pushTargets = buildPushReports(configuredTargets, await store.targetStates().catch(() => []), await store.outboxSummaries().catch(() => []), now).filter(
      (target) => configuredTargets.some((entry) => entry.target === target.target) || target.outboxDepth > 0,
    );
    if (options.stream !== undefined) {
      reports = reports.filter((report) => report.stream === options.stream);
      if (reports.length === 0) throw new UsageError(`no stream ${options.stream} in the store; \`dataspace-sync status\` lists them`);
      pushTargets = pushTargets.filter((target) => target.stream === options.stream);
    }
    const out = options.json
      ? `${JSON.stringify({ streams: reports, pushTargets }, null, 2)}\n`
      : (options.stream !== undefined ? formatStreamDetail(reports[0] as StreamReport, now) : formatStatusTable(reports, { now, ...terminalWidth() })) +
        formatPushTargets(pushTargets);
    process.stdout.write(context.scrub(out));
  } finally {
    await store.close();
  }
}
