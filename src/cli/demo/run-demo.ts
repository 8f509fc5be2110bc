import { parseDuration } from '../../core/duration.js';
import { trapShutdownSignals } from '../../daemon/signals.js';
import type { StreamReport } from '../../daemon/stream-status.js';
import type { PushReport } from '../../push/push-report.js';
import { formatPushTargets } from '../status-command.js';
import { terminalWidth } from '../terminal-width.js';
import { formatStatusTable } from '../status-table.js';
import { startDemo, type DemoSession } from './demo-session.js';

export interface RunDemoOptions {
  readonly db?: string;
  readonly port?: number;
  /** Stop by itself after this long (a duration such as `45s`), as if Ctrl-C had been pressed. */
  readonly for?: string;
  /** Time between two rounds of changes at the sources. */
  readonly changeEveryMs?: number;
  /** The key the demo's push targets accept; default: a new random one. */
  readonly pushKey?: string;
  readonly out?: NodeJS.WriteStream;
}

const RECENT_CHANGES = 8;

/**
 * `dataspace-sync demo`: every demo part's simulator, the daemon mirroring them, and the sources
 * changing every few seconds while a live view shows the streams and the push targets (redrawn
 * in place on a terminal; one line per event otherwise). Ctrl-C (or the end of `--for`) stops the
 * changes, waits for the mirror to catch up and the outboxes to drain, compares the mirror with
 * the sources and the pushed datasets with the mirror, and stops everything; a second
 * Ctrl-C quits at once. Resolves true when the mirror ended in step with the sources.
 */
export async function runDemo(options: RunDemoOptions = {}): Promise<boolean> {
  const out = options.out ?? process.stdout;
  const say = (line = '') => out.write(`${line}\n`);
  const limitMs = options.for === undefined ? undefined : parseDuration(options.for);
  if (options.for !== undefined && limitMs === undefined) throw new Error(`--for: not a duration: ${options.for}`);
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  const signals = trapShutdownSignals({ onForce: () => out.write(out.isTTY ? '\x1b[?25h\nquitting at once\n' : 'quitting at once\n') });
  signals.onStop(() => stopRequested());

  say('dataspace-sync demo: starting local simulators and a daemon...');
  const demo = await startDemo({
    ...(options.db ? { db: options.db } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.pushKey !== undefined ? { pushKey: options.pushKey } : {}),
  });
  const header = [
    ...demo.parts.flatMap((part) => part.describe),
    `Mirror: ${demo.dbPath} (daemon log: ${demo.logPath})`,
    `Status page: ${demo.statusUrl}`,
    'The sources change every few seconds; Ctrl-C stops the demo.',
  ];
  const view = out.isTTY ? new TerminalView(out, header) : new LineView(say, header);
  const recent: string[] = [];
  const changeTimer = setInterval(() => {
    const stamp = new Date().toISOString().slice(11, 19);
    const lines = demo.changeSources().map((line) => `${stamp} ${line}`);
    recent.push(...lines);
    recent.splice(0, Math.max(0, recent.length - RECENT_CHANGES));
    view.changed(lines);
  }, options.changeEveryMs ?? 12_000);
  const viewTimer = setInterval(() => void Promise.all([demo.reports(), demo.pushReports()]).then(([reports, pushes]) => view.show(reports, pushes, recent)), 1_000);
  const limitTimer = limitMs === undefined ? undefined : setTimeout(() => stopRequested(), limitMs);
  try {
    await stopped;
  } finally {
    clearInterval(changeTimer);
    clearInterval(viewTimer);
    clearTimeout(limitTimer);
  }
  return finish(demo, view, say);
}

async function finish(demo: DemoSession, view: View, say: (line?: string) => void): Promise<boolean> {
  view.close();
  say();
  say('Stopping: the sources no longer change; waiting for the mirror to catch up (Ctrl-C again quits at once)...');
  let differences: string[];
  try {
    differences = await demo.converge(45_000);
    say();
    say(formatStatusTable(await demo.reports(), terminalWidth()).trimEnd());
    const pushes = formatPushTargets(await demo.pushReports()).trimEnd();
    if (pushes !== '') say(pushes);
    say();
    for (const line of await demo.summary()) say(`  ${line}`);
  } finally {
    await demo.close();
  }
  say();
  if (differences.length === 0) {
    const pushed = demo.parts.some((part) => part.push !== undefined) ? '; every pushed dataset holds what the mirror holds, nothing left in the outbox' : '';
    say(`The mirror is in step with the sources: every stream is idle with a cursor, every table equals its source${pushed}.`);
    say(`Query it: sqlite3 ${demo.dbPath} 'select * from tourism limit 5'`);
  } else {
    say('The mirror is NOT in step with the sources:');
    for (const line of differences) say(`  ${line}`);
  }
  return differences.length === 0;
}

interface View {
  /** The latest reports (streams and push targets) and the latest changes at the sources. */
  show(reports: readonly StreamReport[], pushes: readonly PushReport[], recent: readonly string[]): void;
  /** Changes just made at the sources. */
  changed(lines: readonly string[]): void;
  close(): void;
}

/** Redraws the whole view in place, once a second. */
class TerminalView implements View {
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly header: readonly string[],
  ) {
    out.write('\x1b[?25l');
  }

  show(reports: readonly StreamReport[], pushes: readonly PushReport[], recent: readonly string[]): void {
    const table = formatStatusTable(reports, { width: this.out.columns });
    const changes = recent.length > 0 ? recent : ['(none yet)'];
    const targets = formatPushTargets(pushes).trimEnd();
    const frame = [...this.header, '', table.trimEnd(), ...(targets === '' ? [] : [targets]), '', 'Latest changes at the sources:', ...changes.map((line) => `  ${line}`)];
    this.out.write(`\x1b[H\x1b[J${frame.join('\n')}\n`);
  }

  changed(): void {}

  close(): void {
    this.out.write('\x1b[?25h');
  }
}

/** For a pipe or a file: the header once, then one line per change, per sync that moved rows and per push that delivered records. */
class LineView implements View {
  private readonly totals = new Map<string, { upserted: number; deleted: number }>();
  private readonly delivered = new Map<string, number>();

  constructor(
    private readonly say: (line?: string) => void,
    header: readonly string[],
  ) {
    for (const line of header) say(line);
  }

  show(reports: readonly StreamReport[], pushes: readonly PushReport[]): void {
    const stamp = new Date().toISOString().slice(11, 19);
    for (const report of reports) {
      const before = this.totals.get(report.stream) ?? { upserted: 0, deleted: 0 };
      const upserted = report.rowsUpserted - before.upserted;
      const deleted = report.rowsDeleted - before.deleted;
      if (upserted === 0 && deleted === 0) continue;
      this.totals.set(report.stream, { upserted: report.rowsUpserted, deleted: report.rowsDeleted });
      this.say(`${stamp} ${report.stream}: ${upserted} upserted, ${deleted} deleted (${report.status})`);
    }
    for (const push of pushes) {
      const delivered = push.delivered - (this.delivered.get(push.target) ?? 0);
      if (delivered === 0) continue;
      this.delivered.set(push.target, push.delivered);
      this.say(`${stamp} push ${push.target}: ${delivered} records written or deleted, outbox ${push.outboxDepth}`);
    }
  }

  changed(lines: readonly string[]): void {
    for (const line of lines) this.say(line);
  }

  close(): void {}
}
