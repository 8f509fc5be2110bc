import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { PG_URL, dropSchemas, postgresRequired, postgresUnavailable, randomSchemaName } from './pg.js';
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

/** A fresh store of one engine; `cleanup` closes it and removes what it created. */
export interface TestStore {
  readonly store: Store;
  cleanup(): Promise<void>;
}

export interface TestStoreEngine {
  readonly name: 'SQLite' | 'PostgreSQL';
  /** Why the engine's tests are skipped (PostgreSQL unreachable outside CI); undefined when they run. */
  readonly skip: string | undefined;
  open(): Promise<TestStore>;
}

/**
 * Every engine, for tests that must give the same outcome on each: SQLite, and PostgreSQL in a
 * schema of its own. Without a reachable PostgreSQL its tests are skipped, unless CI=true, where
 * opening it fails the test.
 */
export async function testStoreEngines(): Promise<TestStoreEngine[]> {
  const unavailable = await postgresUnavailable();
  const skip = unavailable !== undefined && !postgresRequired() ? unavailable : undefined;
  if (skip !== undefined) console.warn(`SKIPPED: PostgreSQL cases (${skip}; set PGURL to run them)`);
  return [
    {
      name: 'SQLite',
      skip: undefined,
      open: async () => {
        const { store, cleanup } = await tempSqliteStore();
        return { store, cleanup };
      },
    },
    {
      name: 'PostgreSQL',
      skip,
      open: async () => {
        if (unavailable !== undefined) throw new Error(`${unavailable}; CI=true requires the PostgreSQL cases to run (set PGURL)`);
        const schema = randomSchemaName();
        const store = new PostgresStore({ url: PG_URL, schema, poolSize: 2 });
        await store.open();
        return {
          store,
          cleanup: async () => {
            await store.close().catch(() => undefined);
            await dropSchemas([schema]);
          },
        };
      },
    },
  ];
}
