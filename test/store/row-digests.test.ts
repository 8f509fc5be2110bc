import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApplyCounts, ChangeOp } from '../../src/core/ops.js';
import type { SqlValue, TableSpec } from '../../src/core/tables.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { decodeCells, digestName, digestSettings, encodeCells } from '../../src/store/sql/row-digests.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreSchemaError, type Store } from '../../src/store/store.js';
import { PG_URL, dropSchemas, postgresUnavailable, randomSchemaName } from '../helpers/pg.js';
import { scratchDir } from '../helpers/scratch-dir.js';

/**
 * Snapshots (beginSnapshot, snapshotRows, applySnapshot) and the row digests the store keeps of
 * them (src/store/sql/row-digests.ts), on SQLite and PostgreSQL: the table ends equal to the last
 * snapshot whatever came between, the digests spare the writes of equal rows, and any other write
 * to the table makes the store forget them.
 */

const items: TableSpec = {
  name: 'items',
  columns: [
    { name: 'id', type: 'text' },
    { name: 'n', type: 'integer' },
    { name: 'label', type: 'text' },
  ],
  primaryKey: ['id'],
};
const COLUMNS = ['id', 'n', 'label'];
type Row = [string, number, string | null];

function snapshotOps(rows: readonly Row[], batch = 1000, table = 'items'): ChangeOp[] {
  const ops: ChangeOp[] = [{ op: 'beginSnapshot', table, columns: COLUMNS }];
  for (let at = 0; at < rows.length; at += batch) ops.push({ op: 'snapshotRows', table, rows: rows.slice(at, at + batch) });
  ops.push({ op: 'applySnapshot', table });
  return ops;
}

function asRecords(rows: Iterable<Row>): Record<string, SqlValue>[] {
  return [...rows].map(([id, n, label]) => ({ id, n, label })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Test rows sorted as readTable sorts them (byte-wise by key). */
function sortedRecords(records: Record<string, SqlValue>[]): Record<string, SqlValue>[] {
  return [...records].sort((a, b) => (String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0));
}

interface Opened {
  readonly store: Store;
  /** Runs SQL on the mirror behind the store's back (another connection), as a person editing it by hand would. */
  readonly handEdit: (sql: string) => Promise<void>;
  /** The relation a name has in the store, for handEdit's SQL. */
  readonly relation: (name: string) => string;
  close(): Promise<void>;
}

describe('snapshot cell encoding', () => {
  it('tells every two different key or row cell lists apart, and decodes back to the cells', () => {
    const cell = fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true }), fc.bigInt(), fc.boolean(), fc.constant(null));
    fc.assert(
      fc.property(fc.array(cell, { maxLength: 5 }), fc.array(cell, { maxLength: 5 }), (a, b) => {
        expect(decodeCells(encodeCells(a))).toEqual(a);
        if (encodeCells(a) === encodeCells(b)) expect(b).toEqual(a);
      }),
    );
    // Boundaries and types a plain join would confuse.
    const encoded = [['ab', 'c'], ['a', 'bc'], ['a:1', ''], ['1'], [1], [1n], [true], ['t'], [null], ['z'], [0], [-0]].map((cells) => encodeCells(cells as SqlValue[]));
    expect(new Set(encoded).size).toBe(encoded.length);
  });

  it('names the digest table of a relation as the engine tells tables apart (with or without case), within the reserved dss_ prefix', () => {
    expect(digestName('Items', true)).toBe(digestName('items', true));
    expect(digestName('Items', false)).not.toBe(digestName('items', false));
    expect(digestName('items', false)).toMatch(/^dss_digest_[0-9a-f]{24}$/);
    expect(digestName('items', true)).not.toBe(digestName('items2', true));
  });
});

/**
 * `digests`: whether the store keeps digests here (its dialect does, or `everyEngine` makes it);
 * without, only what every snapshot must do is checked, and that no digest table is made.
 */
function describeSnapshots(name: string, open: () => Promise<Opened>, { digests, everyEngine = false }: { digests: boolean; everyEngine?: boolean }): void {
  const digestIt = digests ? it : it.skip;
  const plainIt = digests ? it.skip : it;
  describe(`${name}: snapshots ${digests ? 'with row digests' : 'diffed in the database'}`, () => {
    let opened: Opened | undefined;
    const saved = { ...digestSettings };
    beforeEach(() => {
      digestSettings.everyEngine = everyEngine;
    });
    afterEach(async () => {
      Object.assign(digestSettings, saved);
      await opened?.close();
      opened = undefined;
    });
    async function fresh(): Promise<Opened> {
      await opened?.close();
      opened = await open();
      await opened.store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: items }]));
      return opened;
    }
    let tables = 0;
    /**
     * A table never written before, in the store the test opened first: a property's runs each
     * start from an empty table without digests, as on a fresh store, without a fresh store's cost
     * (on PostgreSQL a schema, its migrations, and dropping it: most of the property's time).
     */
    async function freshTable(): Promise<{ store: Store; table: string }> {
      opened ??= await open();
      tables += 1;
      const table = `items_${tables}`;
      await opened.store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: { ...items, name: table } }]));
      return { store: opened.store, table };
    }
    function apply(store: Store, ...ops: ChangeOp[]): Promise<ApplyCounts> {
      return store.transaction((tx) => tx.apply(ops));
    }
    const rows = (count: number, label = 'x'): Row[] => Array.from({ length: count }, (_, index) => [`r${String(index).padStart(6, '0')}`, index, label]);

    it('writes only the rows that are new or differ, and deletes the keys the snapshot lacks', async () => {
      const { store } = await fresh();
      const first = rows(50);
      expect(await apply(store, ...snapshotOps(first, 7))).toEqual({ upserted: 50, deleted: 0, updated: 0 });
      const second: Row[] = first.slice(5).map((row, index) => (index === 3 ? [row[0], row[1], 'changed'] : row));
      second.push(['new', -1, null]);
      expect(await apply(store, ...snapshotOps(second, 7))).toEqual({ upserted: 2, deleted: 5, updated: 0 });
      expect(await store.readTable('items')).toEqual(asRecords(second));
      expect(await apply(store, ...snapshotOps(second, 7))).toEqual({ upserted: 0, deleted: 0, updated: 0 });
    });

    plainIt('keeps no digest table: every row is compared in the database, so a row edited by hand is repaired at the next snapshot', async () => {
      const { store, handEdit, relation } = await fresh();
      const all = rows(20);
      await apply(store, ...snapshotOps(all));
      await expect(store.readTable(digestName('items', true))).rejects.toThrow();
      await handEdit(`UPDATE ${relation('items')} SET label = 'by hand' WHERE id = 'r000004'`);
      expect(await apply(store, ...snapshotOps(all))).toEqual({ upserted: 1, deleted: 0, updated: 0 });
      expect(await store.readTable('items')).toEqual(asRecords(all));
    });

    digestIt('trusts its digests: a row edited by hand, behind the store, is not repaired while they are kept (docs/limits.md)', async () => {
      const { store, handEdit, relation } = await fresh();
      digestSettings.page = 7;
      const all = rows(30);
      await apply(store, ...snapshotOps(all));
      // Row 25 is on the fifth page of digests: they are read page by page, in full.
      await handEdit(`UPDATE ${relation('items')} SET label = 'by hand' WHERE id = 'r000025'`);
      expect(await apply(store, ...snapshotOps(all))).toEqual({ upserted: 0, deleted: 0, updated: 0 });
      expect((await store.readTable('items')).find((row) => row.id === 'r000025')?.label).toBe('by hand');
    });

    digestIt('forgets its digests at any other write to the table, so the next snapshot compares every row and repairs a hand edit', async () => {
      const { store, handEdit, relation } = await fresh();
      const all = rows(20);
      await apply(store, ...snapshotOps(all));
      await handEdit(`UPDATE ${relation('items')} SET label = 'by hand' WHERE id = 'r000004'`);
      await apply(store, { op: 'upsert', table: 'items', columns: COLUMNS, rows: [['r000009', 9, 'x']] });
      expect(await apply(store, ...snapshotOps(all))).toEqual({ upserted: 1, deleted: 0, updated: 0 });
      expect(await store.readTable('items')).toEqual(asRecords(all));
    });

    digestIt('does not trust digests whose count differs from the table: a row added or removed by hand is repaired', async () => {
      const { store, handEdit, relation } = await fresh();
      const all = rows(10);
      await apply(store, ...snapshotOps(all));
      await handEdit(`INSERT INTO ${relation('items')} (id, n, label) VALUES ('extra', 0, 'by hand')`);
      expect(await apply(store, ...snapshotOps(all))).toEqual({ upserted: 0, deleted: 1, updated: 0 });
      await handEdit(`DELETE FROM ${relation('items')} WHERE id = 'r000003'`);
      expect(await apply(store, ...snapshotOps(all))).toEqual({ upserted: 1, deleted: 0, updated: 0 });
      expect(await store.readTable('items')).toEqual(asRecords(all));
    });

    it('refuses another write to a table while its snapshot is open, and snapshotRows without beginSnapshot', async () => {
      const { store } = await fresh();
      await expect(
        apply(store, { op: 'beginSnapshot', table: 'items', columns: COLUMNS }, { op: 'deleteWhere', table: 'items', keys: [{}] }),
      ).rejects.toThrow(/deleteWhere while a snapshot of it is open/);
      await expect(apply(store, { op: 'snapshotRows', table: 'items', rows: [['a', 1, null]] })).rejects.toBeInstanceOf(StoreSchemaError);
      await expect(apply(store, { op: 'beginSnapshot', table: 'items', columns: ['n', 'label'] })).rejects.toThrow(/lacks key column id/);
    });

    digestIt('past the digest limit, diffs in the database with staged keys and keeps no digests; under it again, keeps them', async () => {
      const { store, handEdit, relation } = await fresh();
      digestSettings.limit = 25;
      digestSettings.page = 4;
      const big = rows(40);
      // Crosses the limit midway (the table was empty): what was written stays, the rest is staged.
      expect(await apply(store, ...snapshotOps(big, 10))).toEqual({ upserted: 40, deleted: 0, updated: 0 });
      expect(await store.readTable('items')).toEqual(asRecords(big));
      await handEdit(`UPDATE ${relation('items')} SET label = 'by hand' WHERE id = 'r000030'`);
      const smaller = big.slice(0, 20);
      // Over the limit at its start: no digests, so the hand edit's row is compared (and then deleted).
      expect(await apply(store, ...snapshotOps(smaller, 10))).toEqual({ upserted: 0, deleted: 20, updated: 0 });
      expect(await store.readTable('items')).toEqual(asRecords(smaller));
      await handEdit(`UPDATE ${relation('items')} SET label = 'by hand' WHERE id = 'r000010'`);
      // Under it: every row compared once (no digests yet), repaired, digests kept from now on.
      expect(await apply(store, ...snapshotOps(smaller, 10))).toEqual({ upserted: 1, deleted: 0, updated: 0 });
      await handEdit(`UPDATE ${relation('items')} SET label = 'by hand' WHERE id = 'r000011'`);
      expect(await apply(store, ...snapshotOps(smaller, 10))).toEqual({ upserted: 0, deleted: 0, updated: 0 });
    });

    it('leaves the table equal to the last snapshot, whatever snapshots, other writes, restarts and rollbacks came between', async () => {
      const key = fc.constantFrom(...Array.from({ length: 10 }, (_, index) => `k${index}`));
      const row = fc.tuple(key, fc.integer({ min: -3, max: 3 }), fc.option(fc.constantFrom('a', 'b', ''), { nil: null }));
      // Labels no snapshot gives: an upsert of a key the last snapshot had always changes its row.
      const write = fc.oneof(
        fc.record({ kind: fc.constant('upsert' as const), rows: fc.array(fc.tuple(key, fc.integer({ min: -3, max: 3 }), fc.constantFrom('u', 'v')), { minLength: 1, maxLength: 3 }) }),
        fc.record({ kind: fc.constant('delete' as const), key }),
      );
      // A round: other writes, then a snapshot: new rows, or (undefined) the last ones again, as an
      // unchanged export gives them; begun again midway (an export discarded) or rolled back.
      const round = fc.record({
        writes: fc.array(write, { maxLength: 3 }),
        rows: fc.option(fc.array(row, { maxLength: 12 }), { nil: undefined }),
        batch: fc.integer({ min: 1, max: 5 }),
        restartAfter: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        rolledBack: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(round, { minLength: 1, maxLength: 6 }), fc.integer({ min: 2, max: 6 }), async (rounds, page) => {
          const { store, table } = await freshTable();
          digestSettings.page = page;
          const model = new Map<string, Row>();
          let last: Row[] = [];
          const check = async (): Promise<void> => expect(await store.readTable(table)).toEqual(sortedRecords(asRecords(model.values())));
          for (const current of rounds) {
            for (const other of current.writes) {
              if (other.kind === 'upsert') {
                await apply(store, { op: 'upsert', table, columns: COLUMNS, rows: other.rows });
                for (const written of other.rows) model.set(written[0], written);
              } else {
                await apply(store, { op: 'deleteWhere', table, keys: [{ id: other.key }] });
                model.delete(other.key);
              }
              await check();
            }
            const rows = current.rows ?? last;
            const restart = current.restartAfter === undefined ? [] : snapshotOps(rows.slice(0, current.restartAfter), current.batch, table).slice(0, -1);
            const ops = [...restart, ...snapshotOps(rows, current.batch, table)];
            if (current.rolledBack) {
              await expect(
                store.transaction(async (tx) => {
                  await tx.apply(ops);
                  throw new Error('the run failed after its snapshot');
                }),
              ).rejects.toThrow('the run failed');
            } else {
              await apply(store, ...ops);
              last = rows;
              model.clear();
              for (const written of rows) model.set(written[0], written);
            }
            await check();
          }
        }),
        { numRuns: 50 },
      );
    }, 120_000);
  });
}

const root = scratchDir('dss-digests-');
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

async function openSqlite(): Promise<Opened> {
  counter += 1;
  const path = join(root, `store-${counter}.db`);
  const store = new SqliteStore({ path });
  await store.open();
  return {
    store,
    handEdit: (sql) => {
      const db = new Database(path);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
      return Promise.resolve();
    },
    relation: (name) => `"${name}"`,
    close: () => store.close(),
  };
}

// SQLite keeps no digests (its dialect's keepsRowDigests); the digest path is covered on it too.
describeSnapshots('SQLite', openSqlite, { digests: false });
describeSnapshots('SQLite, digests kept as on a server engine', openSqlite, { digests: true, everyEngine: true });

const unavailable = await postgresUnavailable();
if (unavailable) {
  console.warn(`SKIPPED: PostgreSQL snapshot digests (${unavailable}; set PGURL to run them)`);
} else {
  const schemas: string[] = [];
  afterAll(() => dropSchemas(schemas));
  async function openPostgres(): Promise<Opened> {
    const schema = randomSchemaName();
    schemas.push(schema);
    const store = new PostgresStore({ url: PG_URL, schema, poolSize: 2 });
    await store.open();
    return {
      store,
      handEdit: async (sql) => {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      },
      relation: (name) => `"${schema}"."${name}"`,
      close: () => store.close(),
    };
  }
  describeSnapshots('PostgreSQL', openPostgres, { digests: true });

  it('PostgreSQL: tables whose names differ only in case keep digests of their own', async () => {
    const opened = await openPostgres();
    const { store } = opened;
    try {
      const upper: TableSpec = { ...items, name: 'Items' };
      await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: items }, { op: 'ensureTable', spec: upper }]));
      const row = (label: string): Row[] => [['k1', 1, label]];
      const snapshot = (table: string, rows: Row[]): ChangeOp[] =>
        snapshotOps(rows).map((op) => ({ ...op, table }) as ChangeOp);
      await store.transaction((tx) => tx.apply([{ op: 'upsert', table: 'items', columns: COLUMNS, rows: row('old') }]));
      await store.transaction((tx) => tx.apply(snapshot('Items', row('new'))));
      // Had the two tables shared digests, 'items' would trust those of 'Items' and keep 'old'.
      await store.transaction((tx) => tx.apply(snapshot('items', row('new'))));
      expect(await store.readTable('items')).toEqual(asRecords(row('new')));
      expect(await store.readTable('Items')).toEqual(asRecords(row('new')));
    } finally {
      await opened.close();
    }
  });
}
