import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../src/cli/demo/demo-session.js';
import { runCli, startCli } from '../helpers/cli.js';
import { AFTER_BUILD_TIMEOUT_MS, distBuilt } from '../helpers/compiled.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Given to the demo instead of the key it would generate, so that the output can be searched for it. */
const PUSH_KEY = 'demo-test-pushkey-3b8e61c4f0';

/** Records as JSON texts with their fields in name order, sorted: equal when the same records are held. */
function canonical(records: readonly Record<string, unknown>[]): string[] {
  return records.map((record) => JSON.stringify(Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1))))).sort();
}

describe('dataspace-sync demo', () => {
  const dir = scratchDir('dss-demo-test-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('mirrors every source while it changes: every stream idle with a cursor, deletions counted, the mirror equal to the simulators; pushes the feed: the ODS dataset holds exactly the live items, the deleted ones deleted, the outbox empty, the key nowhere', async () => {
    const demo = await startDemo({ port: 0, db: join(dir, 'session.db'), pushKey: PUSH_KEY });
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

      const push = demo.parts.find((part) => part.push !== undefined)?.push;
      expect(push, 'a demo part pushes its records').toBeDefined();
      if (push === undefined) return;
      // What a pushed RPDE item is (README, "Push to Opendatasoft"): id, kind, modified as written, data as JSON text.
      const live = (await demo.store.readTable('sessions_items'))
        .filter((row) => row['state'] === 'updated')
        .map((row) => ({ id: row['id'], kind: row['kind'], modified: row['modified_raw'], data: row['data'] }));
      expect(live).toHaveLength(1200);
      expect(canonical(push.records())).toEqual(canonical(live));
      // The round deleted 10 items; with a Unique ID an update replaces in place, so only they were deleted.
      expect(push.received()).toMatchObject({ deleted: 10 });
      expect(push.received().pushed).toBeGreaterThanOrEqual(1200 + 20 + 10);
      expect(await demo.store.outboxSummaries()).toEqual([]);
      const [target, ...others] = await demo.pushReports();
      expect(others).toEqual([]);
      expect(target).toMatchObject({ target: 'rpde:demo-feed:session-series>sessions', outboxDepth: 0, consecutiveFailures: 0, lastError: null });
      expect((await demo.summary()).join('\n')).toMatch(/sessions \(ODS realtime dataset\): 1200 records; pushed \d+ records, deleted 10 \(\d+ requests\), outbox 0/);

      const page = await fetch(demo.statusUrl);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('data-stream="rpde:demo-feed:session-series"');
      expect(html).toContain('id="push-targets"');
      const status = await (await fetch(new URL('status', demo.statusUrl))).text();
      expect(status).toContain('rpde:demo-feed:session-series>sessions');
      for (const text of [html, status]) expect(text).not.toContain(PUSH_KEY);
    } finally {
      await demo.close();
    }
    expect(readFileSync(demo.logPath, 'utf8')).not.toContain(PUSH_KEY);
  });

  it('`npm run demo` stops cleanly on Ctrl-C: the status page URL was shown, the feed pushed with its outbox empty and the push key never printed, the mirror is in step, every stream idle with a cursor', async () => {
    const db = join(dir, 'cli.db');
    // The build is `predemo`, skipped here: the suite runs against the dist/ that CI builds first,
    // or that the e2e setup builds beside the tests when src/ is newer.
    await distBuilt();
    const npm = spawn('npm', ['run', 'demo', '--ignore-scripts', '--', '--port', '0', '--db', db], {
      cwd: ROOT,
      env: { ...process.env, DSS_DEMO_PUSHKEY: PUSH_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => npm.on('close', resolve));
    const deadline = Date.now() + 60_000;
    // The feed mirrored and its items pushed: the live view said both.
    while (!/push rpde:demo-feed:session-series>sessions: \d+ records written/.test(output) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(output).toMatch(/^Status page: http:\/\/127\.0\.0\.1:\d+\/$/m);
    npm.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('The mirror is in step with the sources');
    expect(output).not.toMatch(/Error|at .*\.[jt]s:\d+/);
    // The items went to the ODS dataset and nothing waits; the key the push URL carries is nowhere in the output.
    expect(output).toMatch(/^\d\d:\d\d:\d\d rpde:demo-feed:session-series: \d+ upserted/m);
    expect(output).toMatch(/^\d\d:\d\d:\d\d push rpde:demo-feed:session-series>sessions: \d+ records written or deleted/m);
    // A round of changes (every 12 s) may come first on a loaded machine: it deletes as many items as it publishes.
    expect(output).toMatch(/sessions \(ODS realtime dataset\): 1200 records; pushed \d+ records, deleted \d+ \(\d+ requests\), outbox 0/);
    expect(output).toContain('/api/push/1.0/sessions/realtime/push/');
    expect(output).not.toContain(PUSH_KEY);

    const config = join(dir, 'cli.config.json');
    writeFileSync(config, JSON.stringify({ store: { engine: 'sqlite', path: db }, jobs: [] }));
    const status = await runCli(['status', '--json', '--config', config]);
    const { streams } = JSON.parse(status.stdout) as { streams: { stream: string; status: string; cursor: unknown }[] };
    expect(streams).toHaveLength(6);
    for (const stream of streams) {
      expect(stream.status, stream.stream).toBe('idle');
      expect(stream.cursor, stream.stream).not.toBeNull();
    }
  }, AFTER_BUILD_TIMEOUT_MS);

  it('`demo --for` stops by itself, as Ctrl-C does', async () => {
    const demo = startCli(['demo', '--for', '1s', '--port', '0', '--db', join(dir, 'for.db')]);
    expect(await demo.exited).toBe(0);
    expect(demo.output()).toContain('Stopping: the sources no longer change');
    expect(demo.output()).toContain('The mirror is in step with the sources');
  });
});
