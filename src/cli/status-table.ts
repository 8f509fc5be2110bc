import { findingsOf } from '../core/findings.js';
import type { JsonValue } from '../core/json.js';
import type { StreamReport } from '../daemon/stream-status.js';

/** A terminal table of stream reports; wide values are cut so one stream stays on one line. */
export function formatStatusTable(reports: readonly StreamReport[]): string {
  if (reports.length === 0) return 'no streams (no job in the config, or none has run yet)\n';
  const rows = reports.map((report) => [
    report.stream,
    report.status + (report.alerting ? ' (alert)' : ''),
    report.lastSuccessAt ?? '-',
    formatCursor(report.cursor),
    String(report.rowsUpserted),
    String(report.rowsDeleted),
    formatFindings(report.details),
    report.lastError ?? '',
  ]);
  const header = ['STREAM', 'STATUS', 'LAST SUCCESS', 'CURSOR', 'UPSERTED', 'DELETED', 'CONFORMANCE', 'LAST ERROR'];
  const limits = [60, 18, 24, 48, 10, 10, 60, 80];
  const cut = (text: string, limit: number) => (text.length > limit ? `${text.slice(0, limit - 1)}…` : text);
  const table = [header, ...rows].map((row) => row.map((cell, index) => cut(cell, limits[index] ?? 40)));
  const widths = header.map((_, index) => Math.max(...table.map((row) => (row[index] ?? '').length)));
  return `${table.map((row) => row.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join('  ').trimEnd()).join('\n')}\n`;
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

/**
 * A stream's findings in one cell: `err C8(1) C26(3); warn C3(5); info 2`. Errors and warnings
 * name their checks, most urgent first, since those are what an operator reports to a publisher;
 * `-` when the source keeps none, `ok` when it found nothing.
 */
function formatFindings(details: JsonValue): string {
  const findings = findingsOf(details);
  if (findings === undefined) return '-';
  const errors: string[] = [];
  const warnings: string[] = [];
  let infos = 0;
  for (const [check, finding] of Object.entries(findings)) {
    const named = `${check}(${finding.count})`;
    switch (finding.severity) {
      case 'error':
        errors.push(named);
        break;
      case 'warning':
        warnings.push(named);
        break;
      case 'info':
        infos += 1;
        break;
    }
  }
  const parts = [
    errors.length > 0 ? `err ${errors.join(' ')}` : undefined,
    warnings.length > 0 ? `warn ${warnings.join(' ')}` : undefined,
    infos > 0 ? `info ${infos}` : undefined,
  ].filter((part) => part !== undefined);
  return parts.length > 0 ? parts.join('; ') : 'ok';
}
