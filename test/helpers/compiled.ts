import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { DIST_OUTCOME } from './dist-outcome.js';

/**
 * The compiled JavaScript of a TypeScript file of the repository (`src/main.ts` gives
 * `<compiled root>/src/main.js`), built once per test run by compile-once.ts. Only the
 * end-to-end project runs that global setup.
 */
export function compiled(path: string): string {
  return join(compiledRoot(path), path.replace(/\.ts$/, '.js'));
}

/**
 * Waits until dist/ (what `npm run build` makes, what `npm start`, `npm run demo` and the image
 * run) is current: compile-once.ts builds it beside the tests when src/ is newer. Rejects with
 * tsc's output when the build failed.
 */
export async function distBuilt(): Promise<void> {
  const outcome = join(compiledRoot('dist/'), DIST_OUTCOME);
  while (!existsSync(outcome)) await new Promise((resolve) => setTimeout(resolve, 100));
  const failure = readFileSync(outcome, 'utf8');
  if (failure !== '') throw new Error(failure);
}

/** The timeout of a test that waits for distBuilt(): tsc beside the other tests took most of a minute at load 10. */
export const AFTER_BUILD_TIMEOUT_MS = 180_000;

function compiledRoot(what: string): string {
  const root = inject('compiledRoot');
  if (root === undefined) throw new Error(`no compiled tree: ${what} is only available to tests of the e2e project (vitest.config.ts)`);
  return root;
}
