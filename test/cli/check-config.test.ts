import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const dir = scratchDir('dss-cli-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(content: unknown): string {
  const file = join(dir, 'sync.config.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

// What the config loader reports is pinned in-process (test/config/config-file.test.ts); these
// check how the command prints it and exits.
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
        expect.stringMatching(/: jobs\[0\]\.kind: expected one of sdmx, rpde/),
      ]),
    );
  });

  it('shows a secret that fails validation as its placeholder, in check-config, sync, status and run alike', async () => {
    const env = { CRON_SECRET: 's3cr3t-cron|9f3a é', TZ_SECRET: 'Secret/Zone 9f3a' };
    const file = configFile({
      store: { engine: 'sqlite', path: join(dir, 'never.db') },
      defaults: { schedules: [{ cron: '${CRON_SECRET} * * * *' }, { cron: '0 * * * *', tz: '${TZ_SECRET}' }] },
      jobs: [],
    });
    for (const command of [['check-config'], ['sync'], ['status'], ['status', '--json'], ['run']]) {
      const result = await runCli([...command, '--config', file], { env });
      expect(result.code, command.join(' ')).toBe(2);
      const output = result.stdout + result.stderr;
      for (const value of Object.values(env)) {
        // Not the value, nor a piece of it (cron-parser quotes the one field of the expression it refused).
        for (const piece of [value, encodeURIComponent(value), ...value.split(' ')]) expect(output).not.toContain(piece);
      }
      expect(result.stderr).toContain(`${file}: defaults.schedules[0].cron: not a valid cron expression: `);
      expect(result.stderr).toContain('${CRON_SECRET}');
      expect(result.stderr).toContain(`${file}: defaults.schedules[1].tz: unknown time zone "\${TZ_SECRET}"`);
    }
  });

  it('accepts the example sync.config.json shipped at the top level', async () => {
    const result = await runCli(['check-config', '--config', 'sync.config.json']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/sync\.config\.json: ok \(\d+ jobs?\)/);
    expect(result.code).toBe(0);
  });
});
