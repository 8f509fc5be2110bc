import type { StreamReport } from '../daemon/stream-status.js';
import { formatFindings } from '../daemon/findings-text.js';
import { relativeText } from '../daemon/time-text.js';

interface Column {
  readonly header: string;
  /** Columns of the highest number are dropped first when the table does not fit; 0 and 1 never are. */
  readonly priority: number;
  /** Squeezed no narrower than this. */
  readonly min: number;
  /** The width asked for before anything is dropped (a long cell wraps or is cut); its longest cell when absent. */
  readonly want?: number;
  /** Cells longer than their column wrap onto more lines (at most `lines`) or are cut with an ellipsis. */
  readonly overflow: 'wrap' | 'cut';
  readonly lines?: number;
  readonly value: (report: StreamReport, now: Date) => string;
}

const COLUMNS: readonly Column[] = [
  { header: 'STREAM', priority: 0, min: 16, want: 36, overflow: 'wrap', value: (report) => report.stream },
  { header: 'STATUS', priority: 0, min: 7, want: 12, overflow: 'wrap', value: (report) => statusCell(report) },
  { header: 'LAST SUCCESS', priority: 1, min: 8, overflow: 'cut', value: (report, now) => relativeText(report.lastSuccessAt, now) ?? '-' },
  { header: 'CURSOR', priority: 4, min: 24, want: 60, overflow: 'cut', value: (report) => formatCursor(report.cursor) },
  { header: 'UPSERTED', priority: 3, min: 8, overflow: 'cut', value: (report) => String(report.rowsUpserted) },
  { header: 'DELETED', priority: 3, min: 7, overflow: 'cut', value: (report) => String(report.rowsDeleted) },
  { header: 'CONFORMANCE', priority: 2, min: 11, want: 30, overflow: 'cut', value: (report) => formatFindings(report.details) },
  { header: 'LAST ERROR', priority: 1, min: 16, want: 36, overflow: 'wrap', lines: 3, value: (report) => report.lastError ?? '' },
];

const GAP = 2;

export interface StatusTableOptions {
  /** Characters per line; the table drops and wraps columns to fit. Unlimited when absent (output to a file or a pipe). */
  readonly width?: number;
  readonly now?: Date;
}

/**
 * A terminal table of stream reports that fits the width it is given: columns are dropped in
 * order of priority (the cursor first: `status <stream>` and `status --json` show it whole), and
 * stream ids, states and errors wrap rather than lose their ends, where the distinguishing part
 * often is.
 */
export function formatStatusTable(reports: readonly StreamReport[], options: StatusTableOptions = {}): string {
  if (reports.length === 0) return 'no streams (no job in the config, or none has run yet)\n';
  const now = options.now ?? new Date();
  const cells = reports.map((report) => COLUMNS.map((column) => column.value(report, now)));
  const ideal = COLUMNS.map((column, index) => Math.max(column.header.length, ...cells.map((row) => (row[index] as string).length)));
  const { shown, widths } = plan(ideal, options.width ?? Infinity);
  const lines: string[] = [];
  for (const row of [COLUMNS.map((column) => column.header), ...cells]) {
    const parts = shown.map((index, position) => layOut(row[index] as string, widths[position] as number, COLUMNS[index] as Column));
    const height = Math.max(...parts.map((part) => part.length));
    for (let line = 0; line < height; line += 1) {
      lines.push(parts.map((part, position) => (part[line] ?? '').padEnd(widths[position] as number)).join(' '.repeat(GAP)).trimEnd());
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Which columns to show and how wide. Columns are dropped, lowest priority first, until the
 * width each asks for fits (never those of priority 0 and 1); then what is left over goes to the
 * columns in order of priority up to their longest cell, or, when even that does not fit, the
 * widest wrapping column gives up a character at a time down to its minimum.
 */
function plan(ideal: readonly number[], width: number): { shown: number[]; widths: number[] } {
  const column = (index: number) => COLUMNS[index] as Column;
  const want = (index: number) => Math.min(ideal[index] as number, column(index).want ?? Infinity);
  const used = (widths: readonly number[]) => widths.reduce((sum, w) => sum + w, 0) + GAP * (widths.length - 1);
  const shown = COLUMNS.map((_, index) => index);
  for (;;) {
    if (used(shown.map(want)) <= width) break;
    const lowest = shown.reduce((drop, index) => (column(index).priority >= column(drop).priority ? index : drop));
    if (column(lowest).priority <= 1) break;
    shown.splice(shown.indexOf(lowest), 1);
  }
  const widths = shown.map(want);
  let spare = width - used(widths);
  if (spare >= 0) {
    const byPriority = [...shown.keys()].sort((a, b) => column(shown[a] as number).priority - column(shown[b] as number).priority);
    for (const position of byPriority) {
      const grow = Math.min(spare, (ideal[shown[position] as number] as number) - (widths[position] as number));
      widths[position] = (widths[position] as number) + grow;
      spare -= grow;
    }
    return { shown, widths };
  }
  while (spare < 0) {
    let widest = -1;
    shown.forEach((index, position) => {
      const w = widths[position] as number;
      if (w > Math.min(column(index).min, ideal[index] as number) && (widest === -1 || w > (widths[widest] as number))) widest = position;
    });
    if (widest === -1) break;
    widths[widest] = (widths[widest] as number) - 1;
    spare += 1;
  }
  return { shown, widths };
}

function layOut(text: string, width: number, column: Column): string[] {
  if (text.length <= width) return [text];
  if (column.overflow === 'cut') return [`${text.slice(0, Math.max(0, width - 1))}…`];
  const lines = wrap(text, width);
  const most = column.lines ?? Infinity;
  if (lines.length <= most) return lines;
  const kept = lines.slice(0, most);
  kept[most - 1] = `${(kept[most - 1] as string).slice(0, Math.max(0, width - 1))}…`;
  return kept;
}

/** Breaks after a space or punctuation in the last third of a line when there is one, else anywhere. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const window = rest.slice(0, width);
    let cut = -1;
    for (let index = window.length - 1; index >= Math.floor((width * 2) / 3); index -= 1) {
      if (' :/,;.)'.includes(window[index] as string)) {
        cut = index + 1;
        break;
      }
    }
    if (cut <= 0) cut = width;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest.length > 0) lines.push(rest);
  return lines;
}

function statusCell(report: StreamReport): string {
  const failures = report.consecutiveFailures;
  const counted = failures > 0 ? `, ${failures} failure${failures === 1 ? '' : 's'}` : '';
  return `${report.status}${counted}${report.alerting ? ' (alert)' : ''}`;
}

function formatCursor(cursor: unknown): string {
  if (cursor === null || cursor === undefined) return '-';
  if (typeof cursor === 'object' && !Array.isArray(cursor)) {
    return Object.entries(cursor as Record<string, unknown>)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
  }
  return JSON.stringify(cursor);
}
