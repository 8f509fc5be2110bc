import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HEALTHCHECK_TIMEOUT_MS } from '../../src/daemon/healthcheck-client.js';
import { runCli } from '../helpers/cli.js';
import { AFTER_BUILD_TIMEOUT_MS, distBuilt } from '../helpers/compiled.js';
import { all, parseDockerfile, type Stage } from '../helpers/dockerfile.js';

/**
 * No Docker engine runs where the tests do, so the image is checked by reading its Dockerfile:
 * what is checked here is what would break `docker build` or the container at its start.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const [build, runtime] = stages as [Stage, Stage];

describe('the Dockerfile', () => {
  it('has a build stage and a runtime stage on the same Node 22 image, pinned to a minor version', () => {
    expect(stages).toHaveLength(2);
    expect(build.name).toBe('build');
    expect(build.image).toMatch(/^node:22\.\d+-bookworm-slim$/);
    expect(runtime.image).toBe(build.image);
  });

  it('builds, then prunes to production dependencies in the build stage; the runtime stage installs and compiles nothing', () => {
    const runs = all(build, 'RUN').join(' && ');
    expect(runs).toContain('npm ci');
    expect(runs).toMatch(/npm run build && npm prune --omit=dev/);
    expect(all(runtime, 'RUN').join(' ')).not.toMatch(/npm (ci|install)|apt-get install|g\+\+/);
    expect(all(runtime, 'COPY')).toEqual(expect.arrayContaining(['--from=build /app/node_modules ./node_modules', '--from=build /app/dist ./dist']));
  });

  it('copies only files that exist, and takes from the build stage only what it makes', () => {
    for (const stage of stages) {
      for (const copy of all(stage, 'COPY')) {
        const parts = copy.split(/\s+/);
        const fromStage = parts[0]?.startsWith('--from=') ? parts.shift()?.slice('--from='.length) : undefined;
        const sources = parts.slice(0, -1);
        for (const source of sources) {
          if (fromStage === undefined) {
            expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true);
          } else {
            expect(fromStage).toBe('build');
            // The build stage's WORKDIR is /app: dist is tsconfig.build.json's outDir, node_modules what npm ci made.
            expect(['/app/dist', '/app/node_modules']).toContain(source);
          }
        }
      }
    }
    const buildConfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    expect(buildConfig.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: 'src' });
    expect(all(build, 'WORKDIR')).toEqual(['/app']);
    expect(all(runtime, 'WORKDIR')).toEqual(['/app']);
  });

  it('runs the compiled CLI as the unprivileged node user, checking its health with the CLI\'s own healthcheck', async () => {
    const user = runtime.instructions.findIndex((instruction) => instruction.keyword === 'USER');
    expect(runtime.instructions[user]?.args).toBe('node');
    const entrypoint = runtime.instructions.findIndex((instruction) => instruction.keyword === 'ENTRYPOINT');
    expect(user).toBeLessThan(entrypoint);
    expect(JSON.parse(all(runtime, 'ENTRYPOINT')[0] ?? 'null')).toEqual(['node', 'dist/main.js']);
    expect(JSON.parse(all(runtime, 'CMD')[0] ?? 'null')).toEqual(['run']);
    // dist/main.js is what `npm run build` makes of src/main.ts (CI builds before it tests; the e2e setup when src/ is newer).
    expect(existsSync(join(ROOT, 'src/main.ts'))).toBe(true);
    await distBuilt();
    expect(existsSync(join(ROOT, 'dist/main.js')), 'dist/main.js is missing: run `npm run build` first').toBe(true);

    const healthcheck = all(runtime, 'HEALTHCHECK')[0] ?? '';
    const command = /CMD (\[.*\])$/.exec(healthcheck)?.[1];
    expect(JSON.parse(command ?? 'null')).toEqual(['node', 'dist/main.js', 'healthcheck']);
    // Our own timeout must end before Docker's, so the failure is ours and says why.
    const timeout = /--timeout=(\d+)s/.exec(healthcheck)?.[1];
    expect(Number(timeout) * 1000).toBeGreaterThan(HEALTHCHECK_TIMEOUT_MS);
    const help = await runCli(['help']);
    expect(help.stdout).toMatch(/^\s+healthcheck\b/m);
    expect(help.stdout).toMatch(/^\s+run\b/m);
  }, AFTER_BUILD_TIMEOUT_MS);

  it('matches the README\'s docker run: port 8080 exposed, the store on the /data volume, the config at /app/sync.config.json', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const run = readme.split('\n').find((line) => line.startsWith('docker run '));
    expect(run).toBeDefined();
    expect(all(runtime, 'EXPOSE')).toEqual(['8080']);
    expect(run).toContain('-p 8080:8080');
    expect(all(runtime, 'VOLUME')).toEqual(['["/data"]']);
    expect(run).toMatch(/-v \S+:\/data /);
    expect(run).toContain(':/app/sync.config.json:ro');
    expect(all(runtime, 'RUN').join(' ')).toContain('ln -s /data /app/data');
    const config = JSON.parse(readFileSync(join(ROOT, 'sync.config.json'), 'utf8')) as { store: { path: string }; server: { port: number } };
    expect(config.store.path).toBe('./data/sync.db');
    expect(config.server.port).toBe(8080);
  });

  it('keeps node_modules and build output out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
  });
});

describe('docs/docker.md', () => {
  it('makes the status token in the shell that later uses it: exported once, passed on by name, never generated inside a command', () => {
    const doc = readFileSync(join(ROOT, 'docs/docker.md'), 'utf8');
    const lines = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => (block[1] as string).split('\n'));
    const exported = lines.findIndex((line) => /^export DSS_STATUS_TOKEN=\$\(openssl rand -hex 32\)$/.test(line));
    expect(exported).toBeGreaterThanOrEqual(0);
    // A token made inside `docker run -e` or before `docker compose` reaches the container only: the
    // operator never sees it, and `$DSS_STATUS_TOKEN` in a later curl is empty.
    const generatedInline = lines.filter((line) => line.includes('openssl rand') && !line.startsWith('export DSS_STATUS_TOKEN='));
    expect(generatedInline).toEqual([]);
    const used = lines.findIndex((line) => line.includes('$DSS_STATUS_TOKEN'));
    expect(used).toBeGreaterThan(exported);
    expect(lines.find((line) => line.startsWith('docker run '))).toMatch(/ -e DSS_STATUS_TOKEN( |$)/);
  });
});
