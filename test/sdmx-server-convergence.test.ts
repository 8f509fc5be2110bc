import { afterAll, describe, it } from 'vitest';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { MSSQL_URL, dropMssqlSchemas, openMssqlStore, randomMssqlSchema } from './helpers/mssql.js';
import { PG_URL, dropSchemas, postgresRequired, postgresUnavailable, randomSchemaName } from './helpers/pg.js';
import { describeSdmxConvergence, SERVER_RUNS, type ConvergenceEngine } from './helpers/sdmx-convergence.js';

/**
 * The SDMX convergence property (test/helpers/sdmx-convergence.ts) on the server engines, beside
 * SQLite's file: PostgreSQL when it answers (always under CI), SQL Server when MSSQL_URL names one.
 */

const engines: ConvergenceEngine[] = [];
const pgUnavailable = await postgresUnavailable();
if (pgUnavailable === undefined || postgresRequired()) {
  // One store for all runs: each run writes its own tables and streams (a dataflow of its own), and
  // a fresh schema per run (migrations, then DROP SCHEMA) cost more than the runs themselves.
  let shared: { store: PostgresStore; schema: string } | undefined;
  afterAll(async () => {
    if (shared === undefined) return;
    await shared.store.close().catch(() => undefined);
    await dropSchemas([shared.schema]);
  });
  engines.push({
    name: 'PostgreSQL',
    runs: SERVER_RUNS,
    open: async () => {
      if (pgUnavailable !== undefined) throw new Error(`${pgUnavailable}; CI=true requires the PostgreSQL cases to run (set PGURL)`);
      if (shared === undefined) {
        const schema = randomSchemaName('dss_conv');
        const postgres = new PostgresStore({ url: PG_URL, schema, poolSize: 2 });
        shared = { store: postgres, schema };
        await postgres.open();
      }
      return { store: shared.store, dispose: () => Promise.resolve() };
    },
  });
} else {
  console.warn(`SKIPPED: SDMX convergence property on PostgreSQL (${pgUnavailable}; set PGURL to run it)`);
}
if (MSSQL_URL !== undefined) {
  engines.push({
    name: 'SQL Server',
    runs: SERVER_RUNS,
    open: async () => {
      const schema = randomMssqlSchema('dss_conv');
      const mssql = await openMssqlStore(schema);
      return {
        store: mssql,
        dispose: async () => {
          await mssql.close().catch(() => undefined);
          await dropMssqlSchemas([schema]);
        },
      };
    },
  });
} else {
  console.warn('SKIPPED: SDMX convergence property on SQL Server (set MSSQL_URL to run it against a real server)');
}
if (engines.length > 0) describeSdmxConvergence(engines);
else describe.skip('SDMX convergence property on a server engine (skipped: none answers)', () => it('runs', () => undefined));
