import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const TOKEN = 'tok-5a7c1e9b3d2f';

describe('the CLI error line', () => {
  const dir = scratchDir('dss-cli-secret-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('hides a substituted secret that the failing URL carries in its path', async () => {
    const configPath = join(dir, 'sync.config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        store: { engine: 'sqlite', path: join(dir, 'sync.db') },
        server: { host: '127.0.0.1', port: 0 },
        client: { retries: 0 },
        // Port 1 on loopback refuses the connection: discovery fails and its error quotes the URL.
        jobs: [{ id: 'catalog', kind: 'rpde', dataCatalog: 'http://127.0.0.1:1/catalog/${MYTOKEN}.jsonld' }],
      }),
    );
    const result = await runCli(['sync', '--config', configPath], { env: { MYTOKEN: TOKEN } });
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain(TOKEN);
    expect(result.stderr).not.toContain(TOKEN);
    const last = result.stderr.trim().split('\n').at(-1);
    expect(last).toMatch(/^dataspace-sync: job catalog could not be expanded into streams: /);
    expect(last).toContain('http://127.0.0.1:1/catalog/***.jsonld');
  });
});
