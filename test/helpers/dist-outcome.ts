/**
 * The file, in the compiled tree, where compile-once.ts writes whether dist/ is current (empty) or
 * why its build failed, and which compiled.ts's distBuilt() waits for. A module of its own: the
 * test workers import it without loading the global setup's esbuild.
 */
export const DIST_OUTCOME = 'dist-outcome.txt';
