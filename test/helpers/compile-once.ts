import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
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
 *
 * The scripts tests start as processes (the CLI, the worker threads, the child scripts) are then
 * bundled over their transpiled copies: loading ~300 modules one by one cost a CLI call ~0.2 s of
 * its ~0.65 s of CPU, in each of the many CLI calls and daemons of a run. Each bundled module keeps
 * the URL of its own file (see keepModuleUrls), so what it looks up beside itself is found as in
 * dist/; native and worker-spawning packages stay outside the bundle.
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
  const layout = { outdir: root, outbase: repo, absWorkingDir: repo, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' } as const;
  await build({ entryPoints, ...layout });
  await build({
    entryPoints: processEntryPoints(),
    ...layout,
    bundle: true,
    // The commands' modules are imported when a command runs (src/main.ts): kept apart in chunks.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    external: UNBUNDLED_PACKAGES,
    // CommonJS packages in the bundle call require().
    banner: { js: "import { createRequire as createRequireOfBundle } from 'node:module'; const require = createRequireOfBundle(import.meta.url);" },
    plugins: [keepModuleUrls(root)],
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

/** A native addon, packages that start threads from files of their own, and the lazily loaded SQL Server driver. */
const UNBUNDLED_PACKAGES = ['better-sqlite3', 'pg-native', 'pino', 'thread-stream', 'sonic-boom', 'mssql', 'tedious', 'turndown'];

/**
 * What tests run as a process or a thread: the CLI, the child scripts of test/ they start, and
 * each worker module src/ starts by name (workerModuleUrl). A worker module missed here still
 * runs, transpiled file by file.
 */
function processEntryPoints(): string[] {
  const workers = typescriptFiles('src').flatMap((file) =>
    [...readFileSync(join(repo, file), 'utf8').matchAll(/workerModuleUrl\(import\.meta\.url, '([\w-]+)'\)/g)].map((match) => join(dirname(file), `${match[1]}.ts`)),
  );
  const children = typescriptFiles('test').filter((file) => file.endsWith('-child.ts'));
  return ['src/main.ts', ...workers, ...children].filter((file) => existsSync(join(repo, file)));
}

/**
 * Gives `import.meta.url` (and `.dirname`, `.filename`) in each bundled module the values of its
 * transpiled file, not of the chunk it lands in: new URL('../../package.json', import.meta.url)
 * and the worker modules beside it resolve as in dist/.
 */
function keepModuleUrls(root: string): Plugin {
  return {
    name: 'keep-module-urls',
    setup(bundle) {
      bundle.onLoad({ filter: /\.ts$/ }, (args) => {
        if (!/^(src|test)\//.test(relative(repo, args.path))) return undefined;
        const text = readFileSync(args.path, 'utf8');
        if (!/import\.meta\.(url|dirname|filename)/.test(text)) return undefined;
        const own = join(root, relative(repo, args.path).replace(/\.ts$/, '.js'));
        const values: Record<string, string> = { url: pathToFileURL(own).href, dirname: dirname(own), filename: own };
        return { contents: text.replace(/import\.meta\.(url|dirname|filename)/g, (_, key: string) => JSON.stringify(values[key])), loader: 'ts' };
      });
    },
  };
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
