import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
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
