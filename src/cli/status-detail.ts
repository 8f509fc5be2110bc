import type { StreamReport } from '../daemon/stream-status.js';
import { relativeText } from '../daemon/time-text.js';
import { formatFindings } from '../daemon/findings-text.js';

/**
 * `status <stream>`: one stream in full, one fact a line, nothing cut: the cursor and the
 * source's details (an RPDE feed's conformance findings with their samples) as indented JSON.
 */
export function formatStreamDetail(report: StreamReport, now: Date = new Date()): string {
  const when = (iso: string | null) => (iso === null ? 'never' : `${iso} (${relativeText(iso, now) ?? ''})`);
  const facts: [string, string][] = [
    ['stream', report.stream],
    ['job', `${report.job} (${report.kind})`],
    ['status', `${report.status}${report.alerting ? ' (alert: past its threshold)' : ''}`],
    ['failures', `${report.consecutiveFailures} in a row`],
    ['last attempt', when(report.lastAttemptAt)],
    ['last success', when(report.lastSuccessAt)],
    ['last change', when(report.lastChangeAt)],
    ['rows', `${report.rowsUpserted} upserted, ${report.rowsDeleted} deleted`],
    ['conformance', formatFindings(report.details)],
    ['cursor', JSON.stringify(report.cursor, null, 2)],
    ['details', JSON.stringify(report.details, null, 2)],
    ['last error', report.lastError ?? '-'],
  ];
  const label = Math.max(...facts.map(([name]) => name.length)) + 2;
  const lines = facts.map(([name, value]) => `${name.padEnd(label)}${value.split('\n').join(`\n${' '.repeat(label)}`)}`);
  return `${lines.join('\n')}\n`;
}
