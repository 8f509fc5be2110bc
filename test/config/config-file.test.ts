import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile } from '../../src/config/load.js';
import { builtInKinds } from '../../src/sources/registry.js';

/**
 * A config file with the built-in kinds, as `check-config` and every command load it; the CLI's
 * own part (one `<file>: <problem>` line each, exit code 2) is in test/cli/check-config.test.ts.
 */
describe('loading a config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dss-config-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;

  function configFile(content: unknown): string {
    files += 1;
    const file = join(dir, `sync-${files}.config.json`);
    writeFileSync(file, JSON.stringify(content));
    return file;
  }

  /** The problems loading `file` reports, after checking that the error names the file. */
  async function problemsOf(file: string, env: NodeJS.ProcessEnv = {}): Promise<readonly string[]> {
    const error = await loadConfigFile(file, builtInKinds, env).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).file).toBe(file);
    return (error as ConfigError).problems;
  }

  it('names a typo inside a schedule as an unknown key', async () => {
    const file = configFile({ defaults: { schedules: [{ evry: '5m' }] }, jobs: [] });
    expect(await problemsOf(file)).toEqual([
      'defaults.schedules[0]: unknown key "evry"; expected {"every": ...} or {"cron": ..., "tz"?: ...}',
    ]);
  });

  it('reports a bad field of a job once, next to the job-level rule it also breaks', async () => {
    const file = configFile({
      jobs: [
        { id: 'x', kind: 'sdmx', endpoint: 'http://nsi.example/rest', dataflows: ['A:B(1.0)'], overlap: '5q' },
        { id: 'y', kind: 'rpde', pollInterval: '1s' },
      ],
    });
    expect(await problemsOf(file)).toEqual([
      'jobs[0].overlap: expected a duration such as 30s, 5m, 1h or 7d',
      'jobs[1].pollInterval: must be at least 8s',
      'jobs[1]: an rpde job needs feeds, datasetSite or dataCatalog',
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
    expect(await problemsOf(file)).toEqual([
      'jobs[2].datasets[0]: dataset obs of https://opendata.example.org would write table van_obs, which dataflow A:DF(1.0) of job stats (jobs[0].dataflows[0]) writes too; give one of them another table prefix',
      'jobs[2].datasets[1]: dataset public-trees of https://opendata.example.org would write table trees_items, which feed https://e.com/feeds/sessions of job leisure (jobs[1].feeds[0]) writes too; give one of them another table prefix',
    ]);
  });

  it('never quotes a substituted secret in a problem: the message shows the placeholder the file wrote', async () => {
    const env = {
      CRON_SECRET: 's3cr3t-cron|9f3a é',
      CRON_MINUTE: '77',
      TZ_SECRET: 'Secret/Zone-9f3a',
      REF_SECRET: 'ref|s3cr3t é',
      URL_SECRET: 'ht tp://s3cr3t-host',
    };
    const file = configFile({
      defaults: { schedules: [{ cron: '${CRON_SECRET} * * * *' }, { cron: '${CRON_MINUTE} * * * *' }, { cron: '0 * * * *', tz: '${TZ_SECRET}' }] },
      jobs: [
        { id: 'stat', kind: 'sdmx', endpoint: '${URL_SECRET}', dataflows: ['${REF_SECRET}'] },
        { id: 'feed', kind: 'rpde', feeds: ['http://feeds.example/a'], schedules: [{ cron: '0 * * * *', tz: 'x/${TZ_SECRET}' }] },
      ],
    });
    const problems = await problemsOf(file, env);
    const text = problems.join('\n');
    // Not the value, nor a piece of it (cron-parser quotes the one field of the expression it refused).
    for (const value of Object.values(env)) {
      for (const piece of [value, encodeURIComponent(value), ...value.split(' ').filter((word) => word.length >= 4)]) expect(text).not.toContain(piece);
    }
    expect(text).not.toMatch(/\b77\b/);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^defaults\.schedules\[0\]\.cron: not a valid cron expression: .*\$\{CRON_SECRET\}/),
        expect.stringMatching(/^defaults\.schedules\[1\]\.cron: not a valid cron expression: .*\$\{CRON_MINUTE\}/),
        expect.stringMatching(/^defaults\.schedules\[2\]\.tz: unknown time zone "\$\{TZ_SECRET\}"/),
        expect.stringMatching(/^jobs\[1\]\.schedules\[0\]\.tz: unknown time zone "x\/\$\{TZ_SECRET\}"/),
        expect.stringMatching(/^jobs\[0\]\.endpoint: /),
        expect.stringMatching(/^jobs\[0\]\.dataflows\[0\]: /),
      ]),
    );
  });

  it('names a missing environment variable', async () => {
    const file = configFile({ store: { engine: 'postgres', url: 'postgres://u:${NO_SUCH_PASSWORD_VAR}@db/x' }, jobs: [] });
    expect(await problemsOf(file, {})).toEqual(['store.url: environment variable NO_SUCH_PASSWORD_VAR is not set']);
  });

  it('says so when the file is missing', async () => {
    const problems = await problemsOf('/nonexistent/sync.config.json');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/cannot read the file/);
  });
});
