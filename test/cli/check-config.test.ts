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

  it('accepts the example sync.config.json shipped at the top level', async () => {
    const result = await runCli(['check-config', '--config', 'sync.config.json']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/sync\.config\.json: ok \(\d+ jobs?\)/);
    expect(result.code).toBe(0);
  });
});
