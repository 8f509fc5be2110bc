import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../src/cli/demo/demo-session.js';
import { runCli, startCli } from '../helpers/cli.js';

describe('dataspace-sync demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dss-demo-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('mirrors every source while it changes: every stream idle with a cursor, deletions counted, the mirror equal to the simulators', async () => {
    const demo = await startDemo({ port: 0, db: join(dir, 'session.db') });
    try {
      expect(await demo.converge(60_000)).toEqual([]);
      const first = await demo.reports();
      const changes = demo.changeSources();
      expect(changes.some((line) => /deleted/.test(line))).toBe(true);
      expect(await demo.converge(60_000)).toEqual([]);

      const reports = await demo.reports();
      expect(reports.map((report) => report.stream).sort()).toEqual([
        'rpde:demo-feed:session-series',
        'sdmx:demo-stat:DEMO:DF_TOURISM(1.0):data',
        'sdmx:demo-stat:DEMO:DF_TOURISM(1.0):meta',
      ]);
      for (const report of reports) expect(report).toMatchObject({ status: 'idle', consecutiveFailures: 0, lastError: null });
      for (const report of reports) expect(report.cursor).not.toBeNull();
      const deletedSince = (stream: string) =>
        (reports.find((r) => r.stream === stream)?.rowsDeleted ?? 0) - (first.find((r) => r.stream === stream)?.rowsDeleted ?? 0);
      expect(deletedSince('rpde:demo-feed:session-series')).toBe(10);
      expect(deletedSince('sdmx:demo-stat:DEMO:DF_TOURISM(1.0):data')).toBeGreaterThanOrEqual(10);

      const page = await fetch(demo.statusUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('data-stream="rpde:demo-feed:session-series"');
    } finally {
      await demo.close();
    }
  });

  it('stops cleanly on Ctrl-C: the status page URL was shown, the mirror is in step, every stream idle with a cursor', async () => {
    const db = join(dir, 'cli.db');
    const demo = startCli(['demo', '--port', '0', '--db', db]);
    const deadline = Date.now() + 60_000;
    while (!/rpde:demo-feed:session-series: \d+ upserted/.test(demo.output()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(demo.output()).toMatch(/^Status page: http:\/\/127\.0\.0\.1:\d+\/$/m);
    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(0);
    expect(demo.output()).toContain('The mirror is in step with the sources');
    expect(demo.output()).not.toMatch(/Error|at .*\.ts:\d+/);

    const config = join(dir, 'cli.config.json');
    writeFileSync(config, JSON.stringify({ store: { engine: 'sqlite', path: db }, jobs: [] }));
    const status = await runCli(['status', '--json', '--config', config]);
    const { streams } = JSON.parse(status.stdout) as { streams: { stream: string; status: string; cursor: unknown }[] };
    expect(streams).toHaveLength(3);
    for (const stream of streams) {
      expect(stream.status, stream.stream).toBe('idle');
      expect(stream.cursor, stream.stream).not.toBeNull();
    }
  });
});
