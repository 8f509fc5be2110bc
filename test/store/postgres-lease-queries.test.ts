import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { PG_URL, dropSchemas, postgresRequired, postgresUnavailable, randomSchemaName } from '../helpers/pg.js';

/**
 * pg 8 warns (once per process, hence a file of its own) when a query is sent to a client that is
 * still running another one; pg 9 will refuse it. Every stream's lease goes through one lease
 * connection, and streams start and end their runs at the same moments.
 */

const unavailable = await postgresUnavailable();

if (unavailable && postgresRequired()) {
  describe('PostgreSQL lease connection', () => {
    it('runs in CI', () => {
      throw new Error(`${unavailable}; CI=true requires the PostgreSQL store tests to run (set PGURL)`);
    });
  });
} else if (unavailable) {
  console.warn(`SKIPPED: PostgreSQL lease connection tests (${unavailable}; set PGURL to run them)`);
  describe.skip(`PostgreSQL lease connection (skipped: ${unavailable})`, () => {
    it('one query at a time', () => undefined);
  });
} else {
  const schema = randomSchemaName();
  afterAll(() => dropSchemas([schema]));

  describe('PostgreSQL lease connection', () => {
    it('sends one query at a time when many streams take and release their leases at once', async () => {
      const warnings: string[] = [];
      const onWarning = (warning: Error): void => {
        warnings.push(`${warning.name}: ${warning.message}`);
      };
      process.on('warning', onWarning);
      const store = new PostgresStore({ url: PG_URL, schema, poolSize: 4 });
      await store.open();
      try {
        const streams = Array.from({ length: 12 }, (_, index) => `s${index}`);
        const leases = await Promise.all(streams.map((stream) => store.acquireLease(stream, 'daemon')));
        expect(leases.every((lease) => lease !== undefined)).toBe(true);
        // Taken, so refused to a second run, all at once too.
        expect(await Promise.all(streams.map((stream) => store.acquireLease(stream, 'other')))).toEqual(streams.map(() => undefined));
        await Promise.all(leases.map((lease) => lease?.release() ?? Promise.resolve()));
        const again = await Promise.all(streams.map((stream) => store.acquireLease(stream, 'daemon')));
        expect(again.map((lease) => lease?.epoch)).toEqual(leases.map((lease) => (lease?.epoch ?? 0) + 1));
        await Promise.all(again.map((lease) => lease?.release() ?? Promise.resolve()));
      } finally {
        await store.close();
        process.off('warning', onWarning);
      }
      expect(warnings).toEqual([]);
    });
  });
}
