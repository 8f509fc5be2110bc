import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AFTER_BUILD_TIMEOUT_MS, distBuilt } from '../helpers/compiled.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm start', () => {
  const dir = scratchDir('dss-npm-start-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces its shell with the daemon: SIGTERM to the npm process stops the daemon and nothing is left listening', async () => {
    // The build is `prestart`, skipped here: the suite runs against the dist/ that CI builds first,
    // or that the e2e setup builds beside the tests when src/ is newer.
    await distBuilt();
    expect(existsSync(join(ROOT, 'dist/main.js')), 'dist/main.js is missing: run `npm run build` first').toBe(true);
    const config = join(dir, 'sync.config.json');
    writeFileSync(config, JSON.stringify({ store: { engine: 'sqlite', path: join(dir, 'sync.db') }, server: { host: '127.0.0.1', port: 0 }, jobs: [] }));
    const npm = spawn('npm', ['start', '--ignore-scripts'], { cwd: ROOT, env: { ...process.env, DSS_CONFIG: config }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => npm.on('close', () => resolve()));
    try {
      const deadline = Date.now() + 30_000;
      let endpoints: string | undefined;
      while (endpoints === undefined && Date.now() < deadline) {
        endpoints = /"endpoints":"(http:\/\/[^"]+)"/.exec(output)?.[1];
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(endpoints, output).toBeDefined();
      expect((await fetch(`${endpoints}/healthz`)).status).toBe(200);

      npm.kill('SIGTERM');
      await exited;
      expect(output).toContain('"msg":"daemon stopped"');
      await expect(fetch(`${endpoints}/healthz`)).rejects.toThrow();
    } finally {
      npm.kill('SIGKILL');
    }
  }, AFTER_BUILD_TIMEOUT_MS);
});
