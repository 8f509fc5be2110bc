import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
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

  it('hides a secret in a URL path even where URLs percent-encode it (a space, `|`, non-ASCII): error line, logs, last_error, `status --json`, /status and the status page', async () => {
    const secret = 'tok en|é-5a7c1e9b';
    // Every way the secret may be written where it leaks: as is, or encoded by the URL parser or an encoder.
    const written = (text: string) => {
      const path = new URL(`http://h/${secret}`).pathname.slice(1);
      return [secret, path, encodeURI(secret), encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)].filter((form) => text.includes(form));
    };
    const configPath = join(dir, 'encoded.config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        store: { engine: 'sqlite', path: join(dir, 'encoded.db') },
        server: { host: '127.0.0.1', port: 0 },
        client: { retries: 0 },
        defaults: { schedules: [{ every: '1h' }], jitter: '0s' },
        // Port 1 on loopback refuses the connection: each failure quotes the URL with the secret in its path.
        jobs: [
          { id: 'stat', kind: 'sdmx', endpoint: 'http://127.0.0.1:1/rest/${PATH_TOKEN}', dataflows: ['A:DF(1.0)'] },
          { id: 'catalog', kind: 'rpde', dataCatalog: 'http://127.0.0.1:1/catalog/${PATH_TOKEN}.jsonld' },
        ],
      }),
    );
    const env = { PATH_TOKEN: secret };
    const sync = await runCli(['sync', '--config', configPath], { env });
    expect(sync.code).toBe(1);
    expect(sync.stdout).toMatch(/sync failed/);
    expect(written(sync.stdout + sync.stderr)).toEqual([]);
    expect(sync.stderr.trim().split('\n').at(-1)).toContain('http://127.0.0.1:1/catalog/***.jsonld');

    const status = await runCli(['status', '--json', '--config', configPath], { env });
    const { streams } = JSON.parse(status.stdout) as { streams: { lastError: string | null }[] };
    expect(streams[0]?.lastError).toContain('http://127.0.0.1:1/rest/***/');
    expect(written(status.stdout)).toEqual([]);
    const table = await runCli(['status', 'sdmx:stat:A:DF(1.0):data', '--config', configPath], { env });
    expect(table.stdout).toContain('***');
    expect(written(table.stdout)).toEqual([]);

    const daemon = startCli(['run', '--config', configPath], { env });
    try {
      let endpoints: string | undefined;
      for (const end = Date.now() + 30_000; !endpoints && Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 50))) {
        endpoints = /"endpoints":"(http:\/\/[^"]+)"/.exec(daemon.output())?.[1];
      }
      expect(endpoints, daemon.output()).toBeDefined();
      const body = await (await fetch(`${endpoints}/status`)).text();
      expect(body).toContain('***');
      expect(written(body)).toEqual([]);
      const page = await (await fetch(`${endpoints}/`)).text();
      expect(written(page)).toEqual([]);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
    expect(written(daemon.output())).toEqual([]);
  });
});
