import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Two tiers run by `npm test`: `unit` (in-process, quick: `npm run test:unit` for the inner
 * loop) and `e2e` (the CLI and other child processes, the convergence properties). The e2e tier
 * compiles the repository once per run (test/helpers/compile-once.ts) so that its child
 * processes start with plain node. A third, `hardening` (`npm run test:hardening`, after
 * `npm test` in CI), holds the long runs of issue 11: every fault against every source, the soak,
 * the crash loop and the hostile-input properties (HARDENING.md); and the convergence properties
 * again, with four times their runs in `npm test`.
 */
const e2e = [
  'test/cli/**/*.test.ts',
  'test/e2e/**/*.test.ts',
  'test/docs/readme-commands.test.ts',
  'test/docker/**/*.test.ts',
  'test/*-convergence.test.ts',
  'test/store/crash.test.ts',
];
const hardening = ['test/hardening/**/*.test.ts'];

export default defineConfig({
  test: {
    // Twice what the slowest test needs when the machine is busy: files share the cores now.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests share loopback ports and the PostgreSQL server; files run in parallel, tests inside a file do not.
    pool: 'forks',
    // One file more than there are cores (vitest's default is one fewer, a single file at a time on
    // two cores): many tests wait on timers, sockets and child processes, and another file's work
    // fills the gap. Files are queued by project name, so the long e2e files start first.
    maxWorkers: availableParallelism() + 1,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...e2e, ...hardening],
          // Files share a worker process and its loaded modules: importing them afresh for every file
          // cost more CPU than the tests. A test must leave no global state behind (fake timers,
          // luxon's default zone, environment variables: restore what it changes).
          isolate: false,
        },
      },
      {
        extends: true,
        // Shares worker processes and their loaded modules between files as the unit tier does, under
        // the same rule: a file leaves no global state behind.
        test: { name: 'e2e', include: e2e, globalSetup: ['test/helpers/compile-once.ts'], isolate: false },
      },
      // Each file runs for a bounded time of its own (SOAK_SECONDS, CRASH_KILLS...), not the default's.
      // The convergence properties run here again, four times as deep (test/helpers/property-runs.ts).
      {
        extends: true,
        test: {
          name: 'hardening',
          include: [...hardening, 'test/*-convergence.test.ts'],
          env: { DSS_PROPERTY_DEPTH: 'deep' },
          globalSetup: ['test/helpers/compile-once.ts'],
          testTimeout: 600_000,
        },
      },
    ],
  },
});
