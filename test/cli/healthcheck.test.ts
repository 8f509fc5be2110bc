import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { startServer } from '../http/loopback-server.js';
import { scratchDir } from '../helpers/scratch-dir.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('dataspace-sync healthcheck', () => {
  const dir = scratchDir('dss-cli-health-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function writeConfig(name: string, server: { host: string; port: number }): string {
    const path = join(dir, `${name}.config.json`);
    writeFileSync(path, JSON.stringify({ store: { engine: 'sqlite', path: join(dir, `${name}.db`) }, server, jobs: [] }));
    return path;
  }

  it('exits 0 while the daemon answers on the configured port (0.0.0.0 checked on loopback), 1 once it is gone', async () => {
    const port = await freePort();
    const configPath = writeConfig('daemon', { host: '0.0.0.0', port });
    const daemon = startCli(['run', '--config', configPath]);
    const { child, exited } = daemon;
    try {
      const deadline = Date.now() + 30_000;
      while (!daemon.output().includes('daemon started') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(daemon.output()).toContain('daemon started');

      const healthy = await runCli(['healthcheck', '--config', configPath]);
      expect(healthy.stderr).toBe('');
      expect(healthy.stdout.trim()).toBe(`http://127.0.0.1:${port}/healthz: ok`);
      expect(healthy.code).toBe(0);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }

    const gone = await runCli(['healthcheck', '--config', configPath]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(new RegExp(`^dataspace-sync: http://127\\.0\\.0\\.1:${port}/healthz: no answer: .*ECONNREFUSED`));
  });

  it('exits 1 when something else answers on the port with an error', async () => {
    const impostor = await startServer((_request, response) => response.writeHead(503).end('starting'));
    try {
      const port = Number(new URL(impostor.origin).port);
      const result = await runCli(['healthcheck', '--config', writeConfig('impostor', { host: '127.0.0.1', port })]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(`dataspace-sync: http://127.0.0.1:${port}/healthz: HTTP 503`);
      expect(impostor.requests.map((request) => request.url)).toEqual(['/healthz']);
    } finally {
      await impostor.close();
    }
  });

  it('exits 1, not the 2 Docker reserves, when the config is broken', async () => {
    const path = join(dir, 'broken.config.json');
    writeFileSync(path, JSON.stringify({ server: { prot: 8080 }, jobs: [] }));
    const result = await runCli(['healthcheck', '--config', path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('server: unknown key "prot"');
  });
});
