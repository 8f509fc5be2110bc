import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { MSSQL_URL, dropMssqlSchemas, openMssqlStore, randomMssqlSchema } from './mssql.js';
import { dropSchemas, PG_URL, postgresRequired, postgresUnavailable, randomSchemaName } from './pg.js';
import { scratchDir } from './scratch-dir.js';

/** A fresh SQLite store in its own temp folder; `cleanup` closes it and removes the folder. */
export async function tempSqliteStore(): Promise<{ store: SqliteStore; path: string; cleanup: () => Promise<void> }> {
  const dir = scratchDir('dss-test-');
  const path = join(dir, 'sync.db');
  const store = new SqliteStore({ path });
  await store.open();
  return {
    store,
    path,
    cleanup: async () => {
      await store.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A store engine the runner's tests run against: SQLite always, PostgreSQL when it answers (or CI
 * requires it), SQL Server when MSSQL_URL names one.
 */
export interface EngineUnderTest {
  readonly engine: 'sqlite' | 'postgres' | 'mssql';
  /** A fresh, empty store; `cleanup` closes it and removes what it created. */
  readonly open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>;
}

/**
 * The engines to run a behaviour on. Without PostgreSQL it is left out with a visible note, unless
 * CI=true: then its entry fails to open, so the tests that need it fail rather than skip.
 */
export async function enginesUnderTest(): Promise<EngineUnderTest[]> {
  const sqlite: EngineUnderTest = { engine: 'sqlite', open: () => tempSqliteStore() };
  const mssql: EngineUnderTest[] = MSSQL_URL === undefined ? [] : [{ engine: 'mssql', open: openMssqlTestStore }];
  const unavailable = await postgresUnavailable();
  if (unavailable !== undefined && !postgresRequired()) {
    console.warn(`SKIPPED: the PostgreSQL cases (${unavailable}; set PGURL to run them)`);
    return [sqlite, ...mssql];
  }
  const postgres: EngineUnderTest = {
    engine: 'postgres',
    open: async () => {
      if (unavailable !== undefined) throw new Error(`${unavailable}; CI=true requires the PostgreSQL cases to run (set PGURL)`);
      const schema = randomSchemaName();
      const store = new PostgresStore({ url: PG_URL, schema, poolSize: 4 });
      await store.open();
      return {
        store,
        cleanup: async () => {
          await store.close().catch(() => undefined);
          await dropSchemas([schema]);
        },
      };
    },
  };
  return [sqlite, postgres, ...mssql];
}

/** A store in a fresh schema on MSSQL_URL's server. */
async function openMssqlTestStore(): Promise<{ store: Store; cleanup: () => Promise<void> }> {
  const schema = randomMssqlSchema();
  const store = await openMssqlStore(schema);
  return {
    store,
    cleanup: async () => {
      await store.close().catch(() => undefined);
      await dropMssqlSchemas([schema]);
    },
  };
}
