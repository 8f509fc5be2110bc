import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialState } from '../../src/core/sync-state.js';
import type { UpsertStatements } from '../../src/store/sqlite/sqlite-handle.js';
import { SqlStore } from '../../src/store/sql/sql-store.js';
import { SqliteDriver } from '../../src/store/sqlite/sqlite-driver.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { WriterWorker } from '../../src/store/sqlite/sqlite-writer-pool.js';
import { SqliteWriterThread } from '../../src/store/sqlite/sqlite-writer-thread.js';
import { scratchDir } from '../helpers/scratch-dir.js';
import { key, rows, spec } from './keyed-rows.js';

const root = scratchDir('dss-sqlite-writer-');
let counter = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

function newPath(): string {
  counter += 1;
  const folder = join(root, `store-${counter}`);
  mkdirSync(folder, { recursive: true });
  return join(folder, 'sync.db');
}

describe('SQLite writer thread', () => {
  it('names a row refused in a batch handed over with others, rolls back, skips what was handed over after it, and keeps the cursor', async () => {
    const store = new SqliteStore({ path: newPath(), awaitWriterThread: true });
    await store.open();
    try {
      const state = initialState('s', 'job', 'test');
      await store.transaction(async (tx) => {
        await tx.apply([{ op: 'ensureTable', spec }, { op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: rows(0, 10, 'old') }]);
        await tx.writeState({ ...state, cursor: { gen: 1 } });
      });
      // 9000 rows cross in several pieces: the refused row is in a later one, with rows after it.
      const bad = rows(0, 9000, 'new');
      (bad[7321] as (string | null)[])[1] = null;
      const attempt = store.transaction(async (tx) => {
        await tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: bad }]);
        await tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: rows(9000, 20_000, 'new') }]);
        await tx.writeState({ ...state, cursor: { gen: 2 } });
      });
      await expect(attempt).rejects.toThrow(/table obs: upsert row 7321 \(k="k07321"\) was refused: NOT NULL constraint failed/);
      expect(await store.readTable('obs')).toEqual(rows(0, 10, 'old').map(([k, v]) => ({ k, v })));
      expect((await store.readState('s'))?.cursor).toEqual({ gen: 1 });
    } finally {
      await store.close();
    }
  });

  it('fails the COMMIT with the refused row when nothing else was asked after it', async () => {
    const store = new SqliteStore({ path: newPath(), awaitWriterThread: true });
    await store.open();
    try {
      await store.transaction(async (tx) => {
        await tx.apply([{ op: 'ensureTable', spec }]);
      });
      const bad = rows(0, 3000);
      (bad[2999] as (string | null)[])[1] = null;
      await expect(store.transaction(async (tx) => void (await tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: bad }])))).rejects.toThrow(
        /upsert row 2999 \(k="k02999"\) was refused/,
      );
      expect(await store.readTable('obs')).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('moves the writes of a store to its writer thread between transactions, once the thread has started', async () => {
    const path = newPath();
    const driver = new SqliteDriver({ path });
    const store = new SqlStore(driver);
    await store.open();
    try {
      await store.transaction(async (tx) => {
        await tx.apply([{ op: 'ensureTable', spec }, { op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: rows(0, 100, 'before') }]);
      });
      for (const deadline = Date.now() + 20_000; !driver.writesOnThread && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        await store.transaction(() => Promise.resolve());
      }
      expect(driver.writesOnThread).toBe(true);
      await store.transaction(async (tx) => {
        await tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: rows(50, 5000, 'after') }]);
      });
      const table = await store.readTable('obs');
      expect(table.length).toBe(5000);
      expect(table[49]).toEqual({ k: key(49), v: 'before49' });
      expect(table[50]).toEqual({ k: key(50), v: 'after50' });
      // A refused row is named as before the move.
      const bad = rows(0, 3000);
      (bad[2500] as (string | null)[])[1] = null;
      await expect(store.transaction(async (tx) => void (await tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: bad }])))).rejects.toThrow(
        /upsert row 2500 \(k="k02500"\) was refused/,
      );
      expect((await store.readTable('obs')).length).toBe(5000);
    } finally {
      await store.close();
    }
    expect(driver.writesOnThread).toBe(false);
  });

  it('answers a read after the upserts handed over before it, in order', () => {
    const thread = SqliteWriterThread.open(newPath(), { timeout: 1000 });
    try {
      thread.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID');
      thread.exec('BEGIN');
      const data = rows(0, 20_000);
      const written = thread.upsert(statements(), data, [0, 1], true, (_row, _cells, cause) => cause);
      expect(written).toBe(20_000);
      expect(thread.get('SELECT count(*) AS n, max(v) AS v FROM t')).toEqual({ n: 20_000, v: 'x9999' });
      thread.exec('COMMIT');
    } finally {
      thread.close();
    }
  });

  it('closes its connection on close and keeps the thread, on which the next store opens its file without starting another', () => {
    const first = newPath();
    const thread = SqliteWriterThread.open(first, { timeout: 1000 });
    thread.pragma('journal_mode = WAL');
    thread.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
    expect(existsSync(`${first}-wal`)).toBe(true);
    thread.close();
    expect(() => thread.exec('SELECT 1')).toThrow(/closed/);
    // The last connection to a WAL database removes its -wal file when it closes.
    expect(existsSync(`${first}-wal`)).toBe(false);
    const next = SqliteWriterThread.open(newPath(), { timeout: 1000 });
    try {
      expect(workerOf(next)).toBe(workerOf(thread));
      expect(next.get('SELECT count(*) AS n FROM sqlite_schema')).toEqual({ n: 0 });
    } finally {
      next.close();
    }
  });

  it('gives the next store a thread a store let go of before reading its replies, answering the next store its own', () => {
    const abandoned = SqliteWriterThread.start(newPath(), { timeout: 1000 });
    abandoned.abandon();
    const next = SqliteWriterThread.open(newPath(), { timeout: 1000 });
    try {
      expect(workerOf(next)).toBe(workerOf(abandoned));
      expect(next.get('SELECT 42 AS answer')).toEqual({ answer: 42 });
      expect(next.all('SELECT 1 AS one UNION ALL SELECT 2')).toEqual([{ one: 1 }, { one: 2 }]);
    } finally {
      next.close();
    }
  });

  it('does not pass a refused row that was never reported on to the next store on its thread', () => {
    const thread = SqliteWriterThread.open(newPath(), { timeout: 1000 });
    thread.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID');
    thread.exec('BEGIN');
    const bad = rows(0, 100);
    (bad[50] as (string | null)[])[1] = null;
    thread.upsert(statements(), bad, [0, 1], true, (_row, _cells, cause) => cause);
    thread.close();
    const next = SqliteWriterThread.open(newPath(), { timeout: 1000 });
    try {
      expect(workerOf(next)).toBe(workerOf(thread));
      next.exec('CREATE TABLE u (k TEXT PRIMARY KEY)');
      expect(next.run('INSERT INTO u (k) VALUES (?)', ['a'])).toBe(1);
    } finally {
      next.close();
    }
  });

  it('throws what opening the file threw', () => {
    expect(() => SqliteWriterThread.open(join(root, 'no-such-folder', 'sync.db'), { timeout: 1000 })).toThrow(/unable to open database file|directory does not exist/);
  });

  it('turns a writer thread that died into an error, not a hang, for the call waiting and every call after', async () => {
    const thread = SqliteWriterThread.open(newPath(), { timeout: 1000 });
    thread.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID');
    thread.exec('BEGIN');
    thread.upsert(statements(), rows(0, 5000), [0, 1], true, (_row, _cells, cause) => cause);
    // The thread is stopped from outside (as running out of memory would), while this one is about to wait for it.
    void workerOf(thread).kill();
    const started = Date.now();
    expect(() => thread.get('SELECT count(*) AS n FROM t')).toThrow(/SQLite writer thread has stopped/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(() => thread.upsert(statements(), rows(0, 10), [0, 1], true, (_row, _cells, cause) => cause)).toThrow(/closed/);
    expect(() => thread.exec('COMMIT')).toThrow(/closed/);
    thread.close();
    await expect(thread.exited).resolves.toBe(1);
    // The next store gets a thread that is alive.
    const next = SqliteWriterThread.open(newPath(), { timeout: 1000 });
    try {
      expect(workerOf(next)).not.toBe(workerOf(thread));
      expect(next.get('SELECT 1 AS one')).toEqual({ one: 1 });
    } finally {
      next.close();
    }
  });
});

/** The thread a connection runs on (threads are kept and handed from store to store). */
function workerOf(thread: SqliteWriterThread): WriterWorker {
  return (thread as unknown as { readonly worker: WriterWorker }).worker;
}

function statements(): UpsertStatements {
  const sql = (count: number): string => `INSERT INTO t (k, v) VALUES ${new Array<string>(count).fill('(?, ?)').join(', ')} ON CONFLICT (k) DO UPDATE SET v = excluded.v`;
  return { many: sql(80), rest: sql, one: sql(1), perStatement: 80, width: 2 };
}
