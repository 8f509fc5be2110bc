import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { initialState } from '../../src/core/sync-state.js';
import type { TableSpec } from '../../src/core/tables.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreLockedError, type Store } from '../../src/store/store.js';
import { describeDeliveryContract } from './delivery-contract.js';
import { describeStoreContract } from './store-contract.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const root = scratchDir('dss-sqlite-');
let counter = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

const paths = new Map<Store, string>();

async function freshStore(): Promise<SqliteStore> {
  counter += 1;
  const path = join(root, `store-${counter}`, 'sync.db');
  const store = new SqliteStore({ path });
  await store.open();
  paths.set(store, path);
  return store;
}

describeStoreContract('SQLite', freshStore);
describeDeliveryContract('SQLite', freshStore, (store, table, column) => {
  const db = new Database(paths.get(store) ?? '');
  try {
    db.exec(`ALTER TABLE "${table}" DROP COLUMN "${column}"`);
  } finally {
    db.close();
  }
  return Promise.resolve();
});

describe('SQLite store, single instance', () => {
  const obs: TableSpec = {
    name: 'obs',
    columns: [
      { name: 'k', type: 'text' },
      { name: 'v', type: 'text' },
    ],
    primaryKey: ['k'],
  };

  function newPath(): string {
    counter += 1;
    return join(root, `single-${counter}`, 'sync.db');
  }

  it('writes in WAL mode with synchronous=FULL, so a commit survives power loss', async () => {
    const path = newPath();
    const store = new SqliteStore({ path });
    await store.open();
    try {
      // synchronous is a setting of each connection: only the store's own writing one can tell.
      const writer = (store as unknown as { driver: { db: Database.Database } }).driver.db;
      expect(writer.pragma('synchronous', { simple: true })).toBe(2);
      const raw = new Database(path, { readonly: true });
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      raw.close();
    } finally {
      await store.close();
    }
  });

  it('refuses a second daemon on the same file, saying who holds it and since when', async () => {
    const path = newPath();
    const first = new SqliteStore({ path, instanceOwner: 'host-a:111:aaaa' });
    await first.open();
    try {
      const second = new SqliteStore({ path, instanceOwner: 'host-b:222:bbbb' });
      const failure = second.open();
      await expect(failure).rejects.toBeInstanceOf(StoreLockedError);
      await expect(failure).rejects.toThrow(/held by another daemon \(host-a:111:aaaa\) since \d{4}-\d\d-\d\dT.*only one daemon/);
    } finally {
      await first.close();
    }
    // Closing released the lock: the next daemon starts at once.
    const third = new SqliteStore({ path, instanceOwner: 'host-c:333:cccc' });
    await third.open();
    await third.close();
  });

  it('takes over a lock whose holder went silent, and fences the old holder out', async () => {
    const path = newPath();
    const old = new SqliteStore({ path, instanceOwner: 'old:1:0000' });
    await old.open();
    await old.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }]));
    // What a killed daemon leaves behind: a lock row nobody refreshes any more.
    const raw = new Database(path);
    raw.prepare("UPDATE dss_instance_lock SET heartbeat_at = '2000-01-01T00:00:00.000Z'").run();
    raw.close();

    const next = new SqliteStore({ path, instanceOwner: 'new:2:1111' });
    await next.open();
    try {
      await next.transaction((tx) => tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: [['a', 'new']] }]));
      const fenced = old.transaction((tx) => tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: [['a', 'old']] }]));
      await expect(fenced).rejects.toBeInstanceOf(StoreLockedError);
      await expect(fenced).rejects.toThrow(/old:1:0000\) lost its instance lock to new:2:1111/);
      expect(await next.readTable('obs')).toEqual([{ k: 'a', v: 'new' }]);
    } finally {
      await old.close();
      await next.close();
    }
  });

  it('takes over at once a lock held on this host by a process that no longer exists (a killed daemon, restarted)', async () => {
    const path = newPath();
    const setup = new SqliteStore({ path });
    await setup.open();
    await setup.close();
    // A pid that existed and is gone: a child that has exited.
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    const raw = new Database(path);
    // What a daemon killed a moment ago leaves: its row, with a fresh heartbeat.
    const heldBy = (owner: string) => raw.prepare('INSERT OR REPLACE INTO dss_instance_lock (id, owner, acquired_at, heartbeat_at) VALUES (1, ?, ?, ?)').run(owner, new Date().toISOString(), new Date().toISOString());
    try {
      heldBy(`${hostname()}:${deadPid}:cccc`);
      const restarted = new SqliteStore({ path });
      await restarted.open();
      await restarted.close();
      // A holder whose process still runs is refused, as is a dead pid on another host (left to the heartbeat).
      for (const owner of [`${hostname()}:${process.ppid}:aaaa`, `elsewhere:${deadPid}:eeee`]) {
        heldBy(owner);
        await expect(new SqliteStore({ path }).open()).rejects.toBeInstanceOf(StoreLockedError);
      }
    } finally {
      raw.close();
    }
  });

  it('opens read-only while a daemon holds the lock: reads work, writes are refused', async () => {
    const path = newPath();
    const daemon = new SqliteStore({ path });
    await daemon.open();
    try {
      await daemon.transaction(async (tx) => {
        await tx.apply([{ op: 'ensureTable', spec: obs }, { op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: [['a', '1']] }]);
        await tx.writeState({ ...initialState('s1', 'job', 'rpde'), cursor: { next: 'https://x/feed?afterId=1' } });
      });
      const reader = new SqliteStore({ path, readOnly: true });
      await reader.open();
      try {
        expect((await reader.readState('s1'))?.cursor).toEqual({ next: 'https://x/feed?afterId=1' });
        expect(await reader.listStates()).toHaveLength(1);
        expect(await reader.readTable('obs')).toEqual([{ k: 'a', v: '1' }]);
        await expect(reader.transaction(() => Promise.resolve(undefined))).rejects.toThrow(/read-only/);
        // The daemon keeps writing while the reader is open.
        await daemon.transaction((tx) => tx.apply([{ op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: [['b', '2']] }]));
        expect(await reader.readTable('obs')).toHaveLength(2);
      } finally {
        await reader.close();
      }
    } finally {
      await daemon.close();
    }
    await expect(new SqliteStore({ path: join(root, 'missing', 'sync.db'), readOnly: true }).open()).rejects.toThrow(/cannot be opened for reading/);
  });

  it('keeps a replaced table invisible to another connection until the commit', async () => {
    const path = newPath();
    const store = new SqliteStore({ path });
    await store.open();
    const other = new Database(path, { readonly: true });
    try {
      await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }, { op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: [['old', '1']] }]));
      await store.transaction(async (tx) => {
        await tx.apply([
          { op: 'replaceTable', spec: { ...obs, columns: [...obs.columns, { name: 'w', type: 'integer' }] } },
          { op: 'upsert', table: 'obs', columns: ['k', 'v', 'w'], rows: [['new', '2', 3]] },
        ]);
        expect(other.prepare('SELECT * FROM obs').all()).toEqual([{ k: 'old', v: '1' }]);
      });
      expect(other.prepare('SELECT * FROM obs').all()).toEqual([{ k: 'new', v: '2', w: 3 }]);
    } finally {
      other.close();
      await store.close();
    }
  });

  it('migrates once: reopening finds the schema at its version and the data intact', async () => {
    const path = newPath();
    for (let round = 0; round < 3; round++) {
      const store = new SqliteStore({ path });
      await store.open();
      await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }, { op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: [[`k${round}`, 'x']] }]));
      await store.close();
    }
    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.prepare('SELECT version FROM dss_schema_version ORDER BY version').all()).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }]);
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.prepare('SELECT count(*) AS n FROM obs').get()).toEqual({ n: 3 });
    } finally {
      raw.close();
    }
  });

  it('brings a store made by the first schema version up to date, keeping its data and cursors', async () => {
    const path = newPath();
    const store = new SqliteStore({ path });
    await store.open();
    await store.transaction(async (tx) => {
      await tx.apply([{ op: 'ensureTable', spec: obs }, { op: 'upsert', table: 'obs', columns: ['k', 'v'], rows: [['a', 'x']] }]);
      await tx.writeState({ ...initialState('s1', 'job', 'sdmx'), cursor: { updatedAfter: 'then' } });
    });
    await store.close();
    // What version 1 left on disk: no history table nor delivery tables, no record of later versions.
    const raw = new Database(path);
    raw.exec('DROP TABLE dss_stream_history; DROP TABLE dss_outbox; DROP TABLE dss_delivery_targets; DELETE FROM dss_schema_version WHERE version >= 2');
    raw.close();
    const reopened = new SqliteStore({ path });
    await reopened.open();
    try {
      expect((await reopened.readState('s1'))?.cursor).toEqual({ updatedAfter: 'then' });
      expect(await reopened.readTable('obs')).toEqual([{ k: 'a', v: 'x' }]);
      await reopened.transaction((tx) => tx.recordChanges('s1', new Date(), 3));
      expect([...(await reopened.changeHistories()).keys()]).toEqual(['s1']);
    } finally {
      await reopened.close();
    }
  });

  it('refreshes its heartbeat while idle', async () => {
    const path = newPath();
    const store = new SqliteStore({ path, heartbeatMs: 10 });
    await store.open();
    const raw = new Database(path, { readonly: true });
    try {
      const heartbeat = () => (raw.prepare('SELECT heartbeat_at FROM dss_instance_lock').get() as { heartbeat_at: string }).heartbeat_at;
      const first = heartbeat();
      await vi.waitFor(() => expect(heartbeat()).not.toBe(first), { timeout: 5000, interval: 10 });
    } finally {
      raw.close();
      await store.close();
    }
  });
});

describe('SQLite stores side by side', () => {
  it("runs one store's transaction inside another's, and still refuses the first store's own inside that", async () => {
    const first = await freshStore();
    const second = await freshStore();
    try {
      const inner = await first.transaction(() =>
        second.transaction(async () => {
          await expect(first.transaction(() => Promise.resolve(1))).rejects.toThrow(/nested/);
          return 'second committed';
        }),
      );
      expect(inner).toBe('second committed');
      expect(await second.transaction(() => second.transaction(() => Promise.resolve(1))).catch((error: unknown) => String(error))).toMatch(/nested/);
      expect(await first.transaction(() => Promise.resolve(2))).toBe(2);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
