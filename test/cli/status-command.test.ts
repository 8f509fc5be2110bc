import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialState } from '../../src/core/sync-state.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { runCli } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch-dir.js';

describe('dataspace-sync status', () => {
  const dir = scratchDir('dss-cli-status-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says plainly that there is no store yet before the first sync, and exits 0', async () => {
    const db = join(dir, 'not-yet', 'sync.db');
    const config = join(dir, 'fresh.config.json');
    writeFileSync(config, JSON.stringify({ store: { engine: 'sqlite', path: db }, jobs: [] }));

    const table = await runCli(['status', '--config', config]);
    expect(table.code).toBe(0);
    expect(table.stderr).toBe('');
    expect(table.stdout).toBe(`no store yet at ${db}: nothing has been synced. Run \`dataspace-sync sync\` once, or start the daemon (\`dataspace-sync run\`).\n`);

    const json = await runCli(['status', '--json', '--config', config]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ streams: [] });
    expect(json.stderr).toMatch(/^no store yet at /);
  });

  describe('with streams in the store', () => {
    const db = join(dir, 'filled', 'sync.db');
    const config = join(dir, 'filled.config.json');
    const long = 'sdmx:oecd-tourism:OECD.CFE.EDS:DSD_TOURISM@DF_TOURISM_ENT_EMP(2.0):data';
    const cursor = { updatedAfter: '2026-06-01T11:55:00+00:00', prefix: 'tourism', structure: { dimensions: ['FREQ', 'REF_AREA', 'MEASURE', 'TIME_PERIOD'] } };

    it('fits the terminal width (COLUMNS) and wraps instead of cutting stream ids', async () => {
      const store = new SqliteStore({ path: db });
      await store.open();
      await store.transaction(async (tx) => {
        await tx.writeState({ ...initialState(long, 'oecd-tourism', 'sdmx'), cursor, lastSuccessAt: new Date().toISOString(), rowsUpserted: 1234 });
        await tx.writeState({
          ...initialState('rpde:leisure:session-series', 'leisure', 'rpde'),
          status: 'backoff',
          consecutiveFailures: 2,
          lastError: 'HTTP 503 from https://feeds.example.org/session-series?afterTimestamp=1796317510830&afterId=ss-0001220 (Retry-After 3600)',
        });
      });
      await store.close();
      writeFileSync(config, JSON.stringify({ store: { engine: 'sqlite', path: db }, jobs: [] }));

      const narrow = await runCli(['status', '--config', config], { env: { COLUMNS: '72' } });
      expect(narrow.code).toBe(0);
      const lines = narrow.stdout.trimEnd().split('\n');
      for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(72);
      expect(lines[0]).not.toContain('CURSOR');
      expect(narrow.stdout).toMatch(/rpde:leisure:\S*\s+backoff, 2/);
      const wide = await runCli(['status', '--config', config], { env: { COLUMNS: '400' } });
      expect(wide.stdout.split('\n')[0]).toMatch(/^STREAM\s+STATUS\s+LAST SUCCESS\s+CURSOR\s+UPSERTED/);
      expect(wide.stdout).toContain(long);
    });

    it('`status <stream>` shows one stream in full, the whole cursor included; an unknown one is a usage error', async () => {
      const detail = await runCli(['status', long, '--config', config]);
      expect(detail.code).toBe(0);
      expect(detail.stdout).toMatch(new RegExp(`^stream\\s+${long.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      expect(detail.stdout).toContain('"dimensions": [');
      expect(detail.stdout).toContain('"TIME_PERIOD"');
      expect(detail.stdout).toMatch(/^rows\s+1234 upserted, 0 deleted$/m);

      const json = JSON.parse((await runCli(['status', long, '--json', '--config', config])).stdout) as { streams: { cursor: unknown }[] };
      expect(json.streams).toHaveLength(1);
      expect(json.streams[0]?.cursor).toEqual(cursor);

      const unknown = await runCli(['status', 'sdmx:nope', '--config', config]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/no stream sdmx:nope in the store/);
    });
  });
});
