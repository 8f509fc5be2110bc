import { describe, expect, it } from 'vitest';
import type { PushReport } from '../../src/push/push-report.js';
import { renderStatusPage } from '../../src/daemon/status-page.js';

const NOW = new Date('2026-12-03T12:00:00Z');

function target(id: string, overrides: Partial<PushReport> = {}): PushReport {
  return {
    target: id,
    stream: 'rpde:feed:sessions',
    outboxDepth: 0,
    oldestChangeAt: null,
    lagSeconds: 0,
    lastSuccessAt: null,
    lastError: null,
    lastErrorAt: null,
    consecutiveFailures: 0,
    delivered: 0,
    setAside: [],
    alertAfterSeconds: 3600,
    alerting: false,
    ...overrides,
  };
}

const page = (pushTargets: readonly PushReport[]) => renderStatusPage({ streams: [], jobs: [], pushTargets, now: NOW, filter: {}, refreshSeconds: 10 });

describe('the status page counts push targets at a glance', () => {
  it('names a refused or alerting push target as failing in the title and the summary', () => {
    const html = page([
      target('feed>ok', { delivered: 12, lastSuccessAt: '2026-12-03T11:59:00Z' }),
      target('feed>refused', { consecutiveFailures: 3, outboxDepth: 4, lastError: 'HTTP 400: Push is disabled' }),
      target('feed>late', { alerting: true, outboxDepth: 1 }),
    ]);
    expect(html).toContain('<title>dataspace-sync · 2 failing</title>');
    expect(html).toMatch(/<b>3<\/b> push targets: <b>2<\/b> failing/);
  });

  it('says nothing of push targets where there are none, and no failure where none fails', () => {
    expect(page([])).not.toContain('push target');
    const html = page([target('feed>ok')]);
    expect(html).toContain('<title>dataspace-sync</title>');
    expect(html).toMatch(/<b>1<\/b> push target ·/);
  });

  it('shows "never" as the last success of a target that never delivered', () => {
    expect(page([target('feed>new')])).toContain('<td data-label="last success"><span class="empty">never</span></td>');
  });
});
