import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { TestProject } from 'vitest/node';
import { DIST_OUTCOME } from './dist-outcome.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Vitest global setup of the end-to-end tests: compiles src/ (and the scripts tests run as child
 * processes) to JavaScript once per test run, so each spawned CLI or child starts with plain
 * `node` instead of loading the TypeScript loader (about 1 s of CPU per process, more under
 * load). esbuild transpiles file by file, as tsx does when the tests import src/ directly, and
 * keeps the layout: the compiled tree sits next to a copy of package.json and a link to
 * node_modules, so a module's relative lookups (the package version, the RPDE decoding worker)
 * find what they find in dist/. Type errors are the lint's and the build's business.
 */
export default async function compileOnce(project: TestProject): Promise<() => Promise<void>> {
  const root = mkdtempSync(join(tmpdir(), 'dss-compiled-'));
  // tsc takes seconds of CPU: it runs beside the transpile and the tests, and only the tests of
  // dist/ wait for it (distBuilt() in compiled.ts reads the outcome written here).
  const dist = ensureDistBuilt().then(
    () => writeOutcome(root, ''),
    (error: unknown) => writeOutcome(root, error instanceof Error ? error.message : String(error)),
  );
  const entryPoints = [
    ...typescriptFiles('src'),
    // Child-process scripts and the test modules they import; the test files themselves are not run from here.
    ...typescriptFiles('test').filter((file) => !file.endsWith('.test.ts')),
  ];
  await build({
    entryPoints,
    outdir: root,
    outbase: repo,
    absWorkingDir: repo,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  cpSync(join(repo, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'), 'dir');
  project.provide('compiledRoot', root);
  return async () => {
    await dist;
    rmSync(root, { recursive: true, force: true });
  };
}

/** The build's outcome (empty: built or already current; else tsc's output), renamed into place so no reader sees half of it. */
function writeOutcome(root: string, outcome: string): void {
  const partial = join(root, `${DIST_OUTCOME}.partial`);
  writeFileSync(partial, outcome);
  renameSync(partial, join(root, DIST_OUTCOME));
}

/**
 * The tests of `npm start`, `npm run demo` and the Dockerfile run what users run: dist/, made by
 * `npm run build`. CI builds it before the tests; on a fresh clone (`npm ci && npm test`) or after
 * an edit it is missing or stale, so build it here rather than fail or test old code.
 */
async function ensureDistBuilt(): Promise<void> {
  const main = join(repo, 'dist/main.js');
  const builtAt = existsSync(main) ? statSync(main).mtimeMs : 0;
  const stale = typescriptFiles('src').some((file) => statSync(join(repo, file)).mtimeMs > builtAt);
  if (!stale) return;
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: repo }, (error, stdout, stderr) => {
      if (error) reject(new Error(`npm run build failed (${error.message.split('\n')[0]}):\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

function typescriptFiles(folder: string): string[] {
  return readdirSync(join(repo, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => join(folder, file));
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder compile-once.ts compiled the repository's TypeScript into. */
    compiledRoot: string;
  }
}
