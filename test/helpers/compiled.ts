import { join } from 'node:path';
import { inject } from 'vitest';

/**
 * The compiled JavaScript of a TypeScript file of the repository (`src/main.ts` gives
 * `<compiled root>/src/main.js`), built once per test run by compile-once.ts. Only the
 * end-to-end project runs that global setup.
 */
export function compiled(path: string): string {
  const root = inject('compiledRoot');
  if (root === undefined) throw new Error(`no compiled tree: ${path} is only available to tests of the e2e project (vitest.config.ts)`);
  return join(root, path.replace(/\.ts$/, '.js'));
}
