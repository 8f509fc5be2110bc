import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialState } from '../../src/core/sync-state.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { scratchDir } from '../helpers/scratch-dir.js';
import { key, rows, spec } from './keyed-rows.js';

const root = scratchDir('dss-sqlite-bulk-');
let counter = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function withStore(body: (store: SqliteStore) => Promise<void>): Promise<void> {
  counter += 1;
  const store = new SqliteStore({ path: join(root, `store-${counter}`, 'sync.db') });
  await store.open();
  try {
    await body(store);
  } finally {
    await store.close();
  }
}

describe('SQLite bulk upserts', () => {
  // Rows go 80 to a statement (two columns): 537 is in a full statement, 990 among the 40 left over.
  it.each([537, 990])('fails the transaction on a row SQLite refuses (row %i), naming it, and rolls back the rows and cursor around it', async (refused) => {
    await withStore(async (store) => {
      const state = initialState('s', 'job', 'test');
      await store.transaction(async (tx) => {
        await tx.apply([{ op: 'ensureTable', spec }, { op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: rows(0, 10, 'old') }]);
        await tx.writeState({ ...state, cursor: { gen: 1 } });
      });
      const bad = rows(0, 1000, 'new');
      (bad[refused] as (string | null)[])[1] = null;
      const attempt = store.transaction(async (tx) => {
        await tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: bad }]);
        await tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: rows(1000, 3000, 'new') }]);
        await tx.writeState({ ...state, cursor: { gen: 2 } });
      });
      await expect(attempt).rejects.toThrow(new RegExp(`table obs: upsert row ${refused} \\(k="${key(refused)}"\\) was refused: NOT NULL constraint failed`));
      expect(await store.readTable('obs')).toEqual(rows(0, 10, 'old').map(([k, v]) => ({ k, v })));
      expect((await store.readState('s'))?.cursor).toEqual({ gen: 1 });
      // The connection is usable again at once.
      await store.transaction(async (tx) => {
        expect(await tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: rows(0, 2000, 'again') }])).toEqual({ upserted: 2000, deleted: 0, updated: 0 });
        await tx.writeState({ ...state, cursor: { gen: 3 } });
      });
      expect((await store.readTable('obs')).length).toBe(2000);
      expect((await store.readState('s'))?.cursor).toEqual({ gen: 3 });
    });
  });

  it('commits a load of many batches with its cursor, invisible to readers until the commit, and counts every row', async () => {
    await withStore(async (store) => {
      const state = initialState('s', 'job', 'test');
      let upserted = 0;
      await store.transaction(async (tx) => {
        await tx.apply([{ op: 'replaceTable', spec }]);
        // Many batches, each rewriting some keys of the one before.
        for (let batch = 0; batch < 30; batch += 1) {
          upserted += (await tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: rows(batch * 900, batch * 900 + 1000, `b${batch}-`) }])).upserted;
        }
        await tx.writeState({ ...state, cursor: { gen: 1 } });
        expect(await store.readState('s')).toBeUndefined();
      });
      expect(upserted).toBe(30_000);
      const table = await store.readTable('obs');
      expect(table.length).toBe(29 * 900 + 1000);
      // Where two batches gave a key, the later one won.
      expect(table[900]).toEqual({ k: key(900), v: 'b1-900' });
      expect((await store.readState('s'))?.cursor).toEqual({ gen: 1 });
    });
  });
});
