import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('dataspace-sync status', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dss-cli-status-'));
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
});
