import { describe, expect, it } from 'vitest';
import { formatStatusTable } from '../../src/cli/status-table.js';
import type { StreamReport } from '../../src/daemon/stream-status.js';

const NOW = new Date('2026-06-01T12:00:00Z');

function report(stream: string, extra: Partial<StreamReport> = {}): StreamReport {
  return {
    stream,
    job: 'oecd',
    kind: 'sdmx',
    status: 'idle',
    cursor: { updatedAfter: '2026-06-01T11:55:00+00:00', prefix: 'tourism', structure: { dimensions: ['FREQ', 'REF_AREA', 'MEASURE', 'TIME_PERIOD'] } },
    lagSeconds: 300,
    alerting: false,
    lastAttemptAt: '2026-06-01T11:55:00.000Z',
    lastSuccessAt: '2026-06-01T11:55:00.000Z',
    lastChangeAt: null,
    consecutiveFailures: 0,
    lastError: null,
    nextRun: null,
    rowsUpserted: 123_456,
    rowsDeleted: 78,
    details: null,
    ...extra,
  };
}

const REPORTS = [
  report('sdmx:oecd-tourism:OECD.CFE.EDS:DSD_TOURISM@DF_TOURISM_ENT_EMP(2.0):data'),
  report('rpde:leisure:session-series', {
    status: 'backoff',
    consecutiveFailures: 3,
    alerting: true,
    lastError: 'stream rpde:leisure:session-series: HTTP 503 from https://feeds.example.org/session-series?afterTimestamp=1796317510830&afterId=ss-0001220 (Retry-After 3600)',
    details: { conformance: { C22: { severity: 'error', count: 2 } } },
  }),
];

describe('the status table', () => {
  it.each([60, 80, 100, 140])('fits %i columns: no line is longer, stream ids and errors wrap instead of losing their ends', (width) => {
    const text = formatStatusTable(REPORTS, { width, now: NOW });
    const lines = text.trimEnd().split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(width);
    expect(lines[0]).toMatch(/^STREAM\s+STATUS/);
    // The first column, read down: every stream id whole, however it wrapped.
    const firstColumn = lines.slice(1).map((line) => line.slice(0, (lines[0] as string).indexOf('STATUS')).trim()).join('');
    expect(firstColumn).toBe(REPORTS.map((r) => r.stream).join(''));
    const statusColumn = lines.slice(1).map((line) => line.slice((lines[0] as string).indexOf('STATUS')).split(/\s{2,}/)[0]).join(' ');
    expect(statusColumn.replace(/\s+/g, ' ')).toContain('backoff, 3 failures (alert)');
  });

  it('drops columns by priority as the width shrinks: the cursor first, the stream and status never', () => {
    const headers = (width: number) => (formatStatusTable(REPORTS, { width, now: NOW }).split('\n')[0] ?? '').split(/\s{2,}/);
    expect(headers(400)).toEqual(['STREAM', 'STATUS', 'LAST SUCCESS', 'CURSOR', 'UPSERTED', 'DELETED', 'CONFORMANCE', 'LAST ERROR']);
    expect(headers(140)).not.toContain('CURSOR');
    expect(headers(140)).toEqual(expect.arrayContaining(['UPSERTED', 'DELETED', 'CONFORMANCE', 'LAST ERROR']));
    expect(headers(60)).toEqual(expect.arrayContaining(['STREAM', 'STATUS']));
    expect(headers(60)).not.toContain('CONFORMANCE');
  });

  it('without a width (a pipe or a file) shows every column uncut, one line per stream', () => {
    const lines = formatStatusTable(REPORTS, { now: NOW }).trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain('updatedAfter=2026-06-01T11:55:00+00:00 prefix=tourism structure=');
    expect(lines[2]).toContain('(Retry-After 3600)');
    expect(lines[1]).toContain('5 min ago');
  });
});
