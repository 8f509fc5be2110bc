import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { crashLoop, KILLS } from '../helpers/crash-loop.js';

/** The crash loop (test/helpers/crash-loop.ts) on the SQLite store. */
const dir = mkdtempSync(join(tmpdir(), 'dss-crash-loop-db-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the daemon under SIGKILL at random moments, restarted each time', () => {
  it(`SQLite: ${KILLS} kills, then the store equals the sources`, async () => {
    const path = join(dir, 'sync.db');
    await crashLoop({
      name: 'sqlite',
      store: { engine: 'sqlite', path },
      open: async () => {
        const store = new SqliteStore({ path, readOnly: true });
        await store.open();
        return store;
      },
    });
  });
});
