import { fromSync } from '../../core/from-sync.js';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { ApplyCounts, ChangeOp } from '../../core/ops.js';
import type { ColumnSpec, SqlValue, TableSpec, ViewSpec } from '../../core/tables.js';
import type { SyncState } from '../../core/sync-state.js';
import { LeaseLostError, StoreSchemaError, type Lease, type Store, type StoreTransaction } from '../store.js';
import { AsyncMutex } from '../sql/async-mutex.js';
import { TransactionScope } from '../sql/transaction-scope.js';
import { quoteIdent } from '../sql/quote.js';
import { readCell } from '../sql/read-values.js';
import { STATE_COLUMNS, rowToState, stateToRow } from '../sql/state-row.js';
import { specFromJson } from '../sql/table-spec.js';
import { planView } from '../sql/view-sql.js';
import { SqliteCatalog } from './sqlite-catalog.js';
import { SqliteChangeApplier } from './sqlite-change-applier.js';
import { SqliteInstanceLock } from './sqlite-instance-lock.js';
import { migrateSqlite, storedVersion } from './sqlite-migrations.js';

export interface SqliteStoreOptions {
  /**
   * Database file, created with its folder if missing. `:memory:` for throwaway use: one connection
   * and no lock, so reads outside a transaction see its uncommitted changes.
   */
  readonly path: string;
  /** Names this daemon in the instance lock; default host:pid:random. */
  readonly instanceOwner?: string;
  /** For `status` and inspection while a daemon runs: no lock, no migration, writes refused. */
  readonly readOnly?: boolean;
  readonly log?: Logger;
  /** A lock holder silent for this long is taken for dead (default 30 s). */
  readonly staleLockAfterMs?: number;
  /** How often the lock's heartbeat is refreshed (default 10 s). */
  readonly heartbeatMs?: number;
  /** How long a statement waits for another process's write lock (default 5 s). */
  readonly busyTimeoutMs?: number;
}

const STATE_UPSERT = `INSERT INTO sync_state (${STATE_COLUMNS.join(', ')}) VALUES (${STATE_COLUMNS.map((column) => `@${column}`).join(', ')})
  ON CONFLICT (stream_id) DO UPDATE SET ${STATE_COLUMNS.filter((column) => column !== 'stream_id')
    .map((column) => `${column} = excluded.${column}`)
    .join(', ')}`;

/**
 * The embedded engine (docs/architecture.md, "The store"): one better-sqlite3 connection writes, in WAL mode with
 * synchronous=FULL so a commit survives power loss; a second connection reads (status, readTable)
 * and sees only committed data. better-sqlite3 is synchronous, so transactions are serialised by
 * an async mutex: one stream's transaction may await the network while others queue behind it.
 */
export class SqliteStore implements Store {
  readonly engine = 'sqlite';
  private db: Database.Database | undefined;
  private reader: Database.Database | undefined;
  private catalog: SqliteCatalog | undefined;
  private applier: SqliteChangeApplier | undefined;
  private lock: SqliteInstanceLock | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lockLost = false;
  private beating = false;
  private closing = false;
  private readonly mutex = new AsyncMutex();
  private readonly scope = new TransactionScope();
  private readonly leases = new Map<string, number>();
  private readonly owner: string;

  constructor(private readonly options: SqliteStoreOptions) {
    this.owner = options.instanceOwner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  open(): Promise<void> {
    return fromSync(() => this.openNow());
  }

  private openNow(): void {
    if (this.db) return;
    const { path } = this.options;
    const memory = path === ':memory:' || path === '';
    if (this.options.readOnly) {
      this.db = this.openReadOnly(path);
      this.reader = this.db;
      return;
    }
    if (!memory) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { timeout: this.options.busyTimeoutMs ?? 5000 });
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (!memory && mode !== 'wal') throw new Error(`store ${path}: could not switch to WAL journal mode (got ${String(mode)})`);
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      // Keeps the WAL file from staying huge after a full load was checkpointed.
      db.pragma('journal_size_limit = 67108864');
      // 32 MB of page cache: 64 MB loaded 1M rows no faster here (bench/store-upsert.ts and
      // bench/sdmx-full-load-shipped.mjs, within run-to-run noise) and raised the peak RSS of a full load.
      db.pragma('cache_size = -32768');
      const applied = migrateSqlite(db);
      if (applied.length > 0) this.options.log?.info({ path, versions: applied }, 'store schema migrated');
      if (!memory) {
        this.lock = new SqliteInstanceLock(db, { path, owner: this.owner, staleAfterMs: this.options.staleLockAfterMs ?? 30_000 });
        const previous = this.lock.acquire();
        if (previous) {
          this.options.log?.warn({ path, previousOwner: previous.owner, lastHeartbeat: previous.heartbeat_at }, 'took over a stale store lock');
        }
      }
    } catch (error) {
      db.close();
      throw error;
    }
    this.db = db;
    this.catalog = new SqliteCatalog(db);
    this.applier = new SqliteChangeApplier(db, this.catalog);
    if (!memory) {
      const reader = new Database(path, { timeout: this.options.busyTimeoutMs ?? 5000 });
      reader.pragma('query_only = ON');
      this.reader = reader;
      this.heartbeat = setInterval(() => void this.beat(), this.options.heartbeatMs ?? 10_000);
      // The heartbeat alone must not keep a finished process alive.
      this.heartbeat.unref();
    } else {
      this.reader = db;
    }
  }

  private openReadOnly(path: string): Database.Database {
    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: true, timeout: this.options.busyTimeoutMs ?? 5000 });
    } catch (error) {
      throw new Error(`store ${path} cannot be opened for reading: ${(error as Error).message}`, { cause: error });
    }
    // A read-write handle kept query-only rather than a read-only one: it can recover the WAL a
    // killed daemon left behind, and open the file when no daemon runs and no -shm exists.
    db.pragma('query_only = ON');
    if (storedVersion(db) === 0) {
      db.close();
      throw new Error(`store ${path} has not been initialised (no daemon has opened it yet)`);
    }
    return db;
  }

  private async beat(): Promise<void> {
    // Behind a long transaction beats would pile up; that transaction's commit refreshes the lock anyway.
    if (this.beating) return;
    this.beating = true;
    await this.mutex
      .run(() =>
        fromSync(() => {
          if (!this.lock || !this.db || this.lockLost || this.closing) return;
          if (!this.lock.refresh()) this.markLockLost();
        }),
      )
      .catch((error: unknown) => this.options.log?.warn({ err: (error as Error).message }, 'store heartbeat failed'))
      .finally(() => {
        this.beating = false;
      });
  }

  private markLockLost(): void {
    if (this.lockLost) return;
    this.lockLost = true;
    this.options.log?.error({ path: this.options.path }, this.lock?.lostError().message ?? 'store lock lost');
  }

  async close(): Promise<void> {
    if (!this.db) return;
    this.closing = true;
    // Queued after every transaction already waiting, so those finish (or roll back) first; a
    // second close() queues behind the first and returns once the store is closed.
    await this.mutex.run(() => fromSync(() => this.closeNow()));
  }

  private closeNow(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    const db = this.db;
    if (!db) return;
    try {
      if (this.lock && !this.lockLost) this.lock.release();
    } finally {
      if (this.reader && this.reader !== db) this.reader.close();
      db.close();
      this.db = undefined;
      this.reader = undefined;
      this.leases.clear();
      this.closing = false;
    }
  }

  ping(): Promise<void> {
    return fromSync(() => {
      this.readerDb().prepare('SELECT 1').get();
    });
  }

  async transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    if (this.options.readOnly) throw new Error(`store ${this.options.path} is open read-only: writes are refused`);
    this.scope.assertNotNested();
    return this.mutex.run(async () => {
      const db = this.writer();
      const catalog = this.catalog as SqliteCatalog;
      if (this.lockLost && this.lock) throw this.lock.lostError();
      db.exec('BEGIN IMMEDIATE');
      catalog.begin();
      const tx = new SqliteTransaction(db, this.applier as SqliteChangeApplier);
      try {
        const result = await this.scope.run(() => fn(tx));
        tx.finish();
        // Fencing: a daemon that was frozen past the stale timeout may have been replaced.
        if (this.lock && !this.lock.refresh()) {
          this.markLockLost();
          throw this.lock.lostError();
        }
        db.exec('COMMIT');
        catalog.commit();
        return result;
      } catch (error) {
        tx.finish();
        if (db.inTransaction) db.exec('ROLLBACK');
        catalog.rollback();
        throw error;
      }
    });
  }

  readState(streamId: string): Promise<SyncState | undefined> {
    return fromSync(() => readStateFrom(this.readerDb(), streamId));
  }

  listStates(): Promise<SyncState[]> {
    return fromSync(() => {
      const rows = this.readerDb().prepare('SELECT * FROM sync_state ORDER BY stream_id').all() as Record<string, unknown>[];
      return rows.map(rowToState);
    });
  }

  /**
   * SQLite has one writing daemon, so the lease is held in this process; its epoch still goes
   * through sync_state, so a commit fenced by an older epoch fails here exactly as it would on a
   * shared engine.
   */
  async acquireLease(streamId: string, owner: string): Promise<Lease | undefined> {
    if (this.leases.has(streamId)) return undefined;
    this.leases.set(streamId, 0);
    let epoch: number;
    try {
      epoch = await this.transaction(() =>
        fromSync(() => {
          const db = this.writer();
          const row = db.prepare('SELECT lease_epoch FROM sync_state WHERE stream_id = ?').get(streamId) as { lease_epoch: number } | undefined;
          const next = Number(row?.lease_epoch ?? 0) + 1;
          if (row) {
            db.prepare('UPDATE sync_state SET lease_owner = ?, lease_epoch = ? WHERE stream_id = ?').run(owner, next, streamId);
          } else {
            // A placeholder row carries the epoch until the runner writes the stream's real state.
            db.prepare("INSERT INTO sync_state (stream_id, job_id, kind, status, lease_owner, lease_epoch) VALUES (?, '', '', 'idle', ?, ?)").run(
              streamId,
              owner,
              next,
            );
          }
          return next;
        }),
      );
    } catch (error) {
      this.leases.delete(streamId);
      throw error;
    }
    this.leases.set(streamId, epoch);
    let released = false;
    return {
      streamId,
      owner,
      epoch,
      release: async () => {
        if (released) return;
        released = true;
        if (this.leases.get(streamId) === epoch) this.leases.delete(streamId);
        if (!this.db || this.closing) return;
        await this.transaction(() =>
          fromSync(() => {
            this.writer().prepare('UPDATE sync_state SET lease_owner = NULL WHERE stream_id = ? AND lease_epoch = ?').run(streamId, epoch);
          }),
        );
      },
    };
  }

  /** Also reads the views made by ensureView (ordered by their base table's key), for inspection. */
  readTable(table: string): Promise<Record<string, SqlValue>[]> {
    return fromSync(() => this.readTableNow(table));
  }

  private readTableNow(table: string): Record<string, SqlValue>[] {
    const db = this.readerDb();
    const specOf = (name: string): TableSpec | undefined => {
      const row = db.prepare('SELECT spec FROM dss_tables WHERE name = ?').get(name) as { spec: string } | undefined;
      return row ? specFromJson(row.spec) : undefined;
    };
    let relation: { name: string; columns: readonly ColumnSpec[]; orderBy: readonly string[] };
    const spec = specOf(table);
    if (spec) {
      relation = { name: spec.name, columns: spec.columns, orderBy: spec.primaryKey };
    } else {
      const view = db.prepare('SELECT name, spec FROM dss_views WHERE name = ?').get(table) as { name: string; spec: string } | undefined;
      if (!view) throw new StoreSchemaError(`table ${JSON.stringify(table)} is unknown to the store`);
      relation = { name: view.name, ...planView(JSON.parse(view.spec) as ViewSpec, specOf) };
    }
    const order = relation.orderBy.map((name) => quoteIdent(name)).join(', ');
    const statement = db.prepare(`SELECT * FROM ${quoteIdent(relation.name)} ORDER BY ${order}`).safeIntegers(true);
    return (statement.all() as Record<string, unknown>[]).map((stored) => {
      const out: Record<string, SqlValue> = {};
      for (const column of relation.columns) out[column.name] = readCell(column.type, stored[column.name]);
      return out;
    });
  }

  private writer(): Database.Database {
    if (!this.db) throw new Error(`store ${this.options.path} is not open`);
    return this.db;
  }

  private readerDb(): Database.Database {
    if (!this.reader) throw new Error(`store ${this.options.path} is not open`);
    return this.reader;
  }
}

function readStateFrom(db: Database.Database, streamId: string): SyncState | undefined {
  const row = db.prepare('SELECT * FROM sync_state WHERE stream_id = ?').get(streamId) as Record<string, unknown> | undefined;
  return row ? rowToState(row) : undefined;
}

/** The handle a transaction's callback gets; it refuses use after the transaction ended. */
class SqliteTransaction implements StoreTransaction {
  private done = false;

  constructor(
    private readonly db: Database.Database,
    private readonly applier: SqliteChangeApplier,
  ) {}

  finish(): void {
    this.done = true;
  }

  apply(ops: readonly ChangeOp[]): Promise<ApplyCounts> {
    return fromSync(() => {
      this.assertOpen();
      return this.applier.apply(ops);
    });
  }

  readState(streamId: string): Promise<SyncState | undefined> {
    return fromSync(() => {
      this.assertOpen();
      return readStateFrom(this.db, streamId);
    });
  }

  writeState(state: SyncState): Promise<void> {
    return fromSync(() => this.writeStateNow(state));
  }

  private writeStateNow(state: SyncState): void {
    this.assertOpen();
    const stored = this.db.prepare('SELECT lease_epoch FROM sync_state WHERE stream_id = ?').get(state.streamId) as { lease_epoch: number } | undefined;
    if (stored && state.leaseEpoch < Number(stored.lease_epoch)) {
      throw new LeaseLostError(state.streamId, state.leaseEpoch, Number(stored.lease_epoch));
    }
    this.db.prepare(STATE_UPSERT).run(stateToRow(state));
  }

  private assertOpen(): void {
    if (this.done) throw new Error('this transaction has already ended; use the tx of the current transaction');
  }
}
