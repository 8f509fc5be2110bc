import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

function configFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'dss-cli-'));
  const file = join(dir, 'sync.config.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('dataspace-sync check-config', () => {
  it('prints one line per problem with its JSON path and exits non-zero', async () => {
    const file = configFile({
      concurrency: 'four',
      server: { prot: 8080 },
      defaults: { alertAfter: 'tomorrow' },
      jobs: [{ id: 'x', kind: 'no-such-kind' }],
    });
    const result = await runCli(['check-config', '--config', file]);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/: concurrency: /),
        `${file}: server: unknown key "prot" (a typo?)`,
        expect.stringMatching(/: defaults\.alertAfter: expected a duration/),
        expect.stringMatching(/: jobs\[0\]\.kind: unknown kind; expected one of /),
      ]),
    );
  });

  it('names a typo inside a schedule as an unknown key', async () => {
    const file = configFile({ defaults: { schedules: [{ evry: '5m' }] }, jobs: [] });
    const result = await runCli(['check-config', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `${file}: defaults.schedules[0]: unknown key "evry"; expected {"every": ...} or {"cron": ..., "tz"?: ...}`,
    );
  });

  it('reports a bad field of a job once, next to the job-level rule it also breaks', async () => {
    const file = configFile({
      jobs: [
        { id: 'x', kind: 'sdmx', endpoint: 'http://nsi.example/rest', dataflows: ['A:B(1.0)'], overlap: '5q' },
        { id: 'y', kind: 'rpde', pollInterval: '1s' },
      ],
    });
    const result = await runCli(['check-config', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      `${file}: jobs[0].overlap: expected a duration such as 30s, 5m, 1h or 7d`,
      `${file}: jobs[1].pollInterval: must be at least 8s`,
      `${file}: jobs[1]: an rpde job needs feeds, datasetSite or dataCatalog`,
    ]);
  });

  it('refuses an ods-records table that an SDMX or an RPDE job would write too, naming both places', async () => {
    const file = configFile({
      jobs: [
        { id: 'stats', kind: 'sdmx', endpoint: 'http://nsi.example/rest', dataflows: [{ ref: 'A:DF(1.0)', prefix: 'van' }] },
        { id: 'leisure', kind: 'rpde', feeds: [{ url: 'https://e.com/feeds/sessions', prefix: 'trees' }] },
        { id: 'van', kind: 'ods-records', portal: 'https://opendata.example.org', datasets: ['obs', { id: 'public-trees', table: 'trees_items' }, 'fine'] },
      ],
    });
    const result = await runCli(['check-config', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      `${file}: jobs[2].datasets[0]: dataset obs of https://opendata.example.org would write table van_obs, which dataflow A:DF(1.0) of job stats (jobs[0].dataflows[0]) writes too; give one of them another table prefix`,
      `${file}: jobs[2].datasets[1]: dataset public-trees of https://opendata.example.org would write table trees_items, which feed https://e.com/feeds/sessions of job leisure (jobs[1].feeds[0]) writes too; give one of them another table prefix`,
    ]);
  });

  it('names a missing environment variable', async () => {
    const file = configFile({ store: { engine: 'postgres', url: 'postgres://u:${NO_SUCH_PASSWORD_VAR}@db/x' }, jobs: [] });
    const result = await runCli(['check-config', '--config', file], { env: { NO_SUCH_PASSWORD_VAR: undefined } });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`${file}: store.url: environment variable NO_SUCH_PASSWORD_VAR is not set`);
  });

  it('accepts the example sync.config.json shipped at the top level', async () => {
    const result = await runCli(['check-config', '--config', 'sync.config.json']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/sync\.config\.json: ok \(\d+ jobs?\)/);
    expect(result.code).toBe(0);
  });

  it('says so when the file is missing', async () => {
    const result = await runCli(['check-config', '--config', '/nonexistent/sync.config.json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot read the file/);
  });
});
