import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests share loopback ports and the PostgreSQL server; files run in parallel, tests inside a file do not.
    pool: 'forks',
  },
});
