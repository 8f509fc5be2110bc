import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * The URL to start a worker thread's module with, given the URL of a module beside it and the
 * worker's file name without extension: the compiled JavaScript as shipped, or the TypeScript
 * source under tsx (tests, benchmarks).
 */
export function workerModuleUrl(besideUrl: string, name: string): URL {
  if (!besideUrl.endsWith('.ts')) return new URL(`./${name}.js`, besideUrl);
  // A worker does not inherit the TypeScript loader (and --import in its execArgv does not register
  // it on Node 20): a small module registers tsx, then loads the worker's source.
  const tsx = pathToFileURL(createRequire(besideUrl).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const source = new URL(`./${name}.ts`, besideUrl).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(source)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}
