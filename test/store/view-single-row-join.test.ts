import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempSqliteStore } from '../helpers/stores.js';

describe('a view joined on no columns (dataset-level values)', () => {
  let store: SqliteStore;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ store, cleanup } = await tempSqliteStore());
  });
  afterEach(async () => cleanup());

  it('shows the single row of the joined table on every row, and NULLs while it is empty', async () => {
    await store.transaction((tx) =>
      tx.apply([
        { op: 'ensureTable', spec: { name: 'f_obs', columns: [{ name: 'K', type: 'text' }, { name: 'V', type: 'text' }], primaryKey: ['K'] } },
        { op: 'ensureTable', spec: { name: 'f_ds', columns: [{ name: 'ROW', type: 'text' }, { name: 'DECIMALS', type: 'text' }], primaryKey: ['ROW'] } },
        { op: 'ensureView', spec: { name: 'f', from: 'f_obs', leftJoins: [{ table: 'f_ds', using: [] }] } },
        { op: 'upsert', table: 'f_obs', columns: ['K', 'V'], rows: [['a', '1'], ['b', '2']] },
      ]),
    );
    expect(await store.readTable('f')).toEqual([
      { K: 'a', V: '1', DECIMALS: null },
      { K: 'b', V: '2', DECIMALS: null },
    ]);
    await store.transaction((tx) => tx.apply([{ op: 'upsert', table: 'f_ds', columns: ['ROW', 'DECIMALS'], rows: [['', '2']] }]));
    expect(await store.readTable('f')).toEqual([
      { K: 'a', V: '1', DECIMALS: '2' },
      { K: 'b', V: '2', DECIMALS: '2' },
    ]);
  });
});
