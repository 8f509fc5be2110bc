import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../src/cli/demo/demo-session.js';
import { runCli, startCli } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

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
        'ods:demo-ods-catalog:catalog',
        'ods:demo-ods-counts:bike-counts',
        'ods:demo-ods-trees:street-trees',
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
      // 5 edited trees have new record ids (values hash) and 3 were deleted: 8 rows go.
      expect(deletedSince('ods:demo-ods-trees:street-trees')).toBe(8);

      const page = await fetch(demo.statusUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('data-stream="rpde:demo-feed:session-series"');
    } finally {
      await demo.close();
    }
  });

  it('`npm run demo` stops cleanly on Ctrl-C: the status page URL was shown, the mirror is in step, every stream idle with a cursor', async () => {
    const db = join(dir, 'cli.db');
    // The build is `predemo`, skipped here: the suite runs against the dist/ that CI builds first.
    const npm = spawn('npm', ['run', 'demo', '--ignore-scripts', '--', '--port', '0', '--db', db], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => npm.on('close', resolve));
    const deadline = Date.now() + 60_000;
    while (!/rpde:demo-feed:session-series: \d+ upserted/.test(output) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(output).toMatch(/^Status page: http:\/\/127\.0\.0\.1:\d+\/$/m);
    npm.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('The mirror is in step with the sources');
    expect(output).not.toMatch(/Error|at .*\.[jt]s:\d+/);

    const config = join(dir, 'cli.config.json');
    writeFileSync(config, JSON.stringify({ store: { engine: 'sqlite', path: db }, jobs: [] }));
    const status = await runCli(['status', '--json', '--config', config]);
    const { streams } = JSON.parse(status.stdout) as { streams: { stream: string; status: string; cursor: unknown }[] };
    expect(streams).toHaveLength(6);
    for (const stream of streams) {
      expect(stream.status, stream.stream).toBe('idle');
      expect(stream.cursor, stream.stream).not.toBeNull();
    }
  });

  it('`demo --for` stops by itself, as Ctrl-C does', async () => {
    const demo = startCli(['demo', '--for', '1s', '--port', '0', '--db', join(dir, 'for.db')]);
    expect(await demo.exited).toBe(0);
    expect(demo.output()).toContain('Stopping: the sources no longer change');
    expect(demo.output()).toContain('The mirror is in step with the sources');
  });
});
