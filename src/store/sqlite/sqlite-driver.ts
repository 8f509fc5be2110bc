import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { fromSync } from '../../core/from-sync.js';
import { AsyncMutex } from '../sql/async-mutex.js';
import type { DriverTransaction, SqlConnection, SqlDriver } from '../sql/engine.js';
import { migrate, storedVersion } from '../sql/migrations.js';
import { SqliteConnection } from './sqlite-connection.js';
import { sqliteDialect } from './sqlite-dialect.js';
import { LocalSqliteHandle, MovableHandle, type SqliteHandle } from './sqlite-handle.js';
import { INSTANCE_LOCK_TABLE_SQL, SqliteInstanceLock } from './sqlite-instance-lock.js';
import { SqliteSession } from './sqlite-session.js';
import { SqliteWriterThread } from './sqlite-writer-thread.js';
import type { SqliteStoreOptions } from './sqlite-store.js';

/**
 * The embedded engine's connections (docs/architecture.md, "The store"): one better-sqlite3 connection writes, in WAL mode with
 * synchronous=FULL so a commit survives power loss; a second connection reads (status, readTable)
 * and sees only committed data. better-sqlite3 is synchronous, so transactions are serialised by
 * an async mutex: one stream's transaction may await the network while others queue behind it.
 * One daemon writes a file at a time (the instance lock), so leases are held in this process.
 */
export class SqliteDriver implements SqlDriver {
  readonly engine = 'sqlite';
  readonly dialect = sqliteDialect;
  readonly singleWriter = true;
  readonly label: string;
  readonly readOnly: boolean;
  private db: MovableHandle | undefined;
  /** The writer thread started at open, until it takes over the writes. */
  private writerThread: SqliteWriterThread | undefined;
  private session: SqliteSession | undefined;
  private readerConnection: SqliteConnection | undefined;
  private lock: SqliteInstanceLock | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lockLost = false;
  private beating = false;
  private closing = false;
  private readonly mutex = new AsyncMutex();
  private readonly streams = new Set<string>();
  private readonly owner: string;

  constructor(private readonly options: SqliteStoreOptions) {
    this.owner = options.instanceOwner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.label = `store ${options.path}`;
    this.readOnly = options.readOnly ?? false;
  }

  async open(): Promise<void> {
    if (this.db) return;
    const { path } = this.options;
    const memory = path === ':memory:' || path === '';
    if (this.readOnly) {
      await this.openReadOnly(path);
      return;
    }
    if (!memory) mkdirSync(dirname(path), { recursive: true });
    const timeout = this.options.busyTimeoutMs ?? 5000;
    // Writes move to a thread of their own (a private database in memory stays here): started
    // now, it takes over once it has started (acquire), as starting a thread takes longer than
    // opening the store, and the first transactions of a run are small.
    const thread = memory ? undefined : SqliteWriterThread.start(path, { timeout });
    const db = new MovableHandle(LocalSqliteHandle.open(path, { timeout }));
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (!memory && mode !== 'wal') throw new Error(`store ${path}: could not switch to WAL journal mode (got ${String(mode)})`);
      configureWriter(db);
      this.db = db;
      this.session = new SqliteSession(db);
      const applied = await migrate(this, { extra: { 1: [INSTANCE_LOCK_TABLE_SQL] } });
      if (applied.length > 0) this.options.log?.info({ path, versions: applied }, 'store schema migrated');
      if (!memory) {
        this.lock = new SqliteInstanceLock(db, { path, owner: this.owner, staleAfterMs: this.options.staleLockAfterMs ?? 30_000 });
        const previous = this.lock.acquire();
        if (previous) {
          this.options.log?.warn({ path, previousOwner: previous.owner, lastHeartbeat: previous.heartbeat_at }, 'took over a stale store lock');
        }
      }
    } catch (error) {
      this.db = undefined;
      this.session = undefined;
      this.lock = undefined;
      thread?.abandon();
      db.close();
      throw error;
    }
    this.writerThread = thread;
    if (this.options.awaitWriterThread === true) this.adoptWriterThread(true);
    if (!memory) {
      const reader = LocalSqliteHandle.open(path, { timeout });
      reader.pragma('query_only = ON');
      this.readerConnection = new SqliteConnection(reader);
      this.heartbeat = setInterval(() => void this.beat(), this.options.heartbeatMs ?? 10_000);
      // The heartbeat alone must not keep a finished process alive.
      this.heartbeat.unref();
    } else {
      this.readerConnection = this.session;
    }
  }

  /** Whether the writes run on the writer thread yet (diagnostics, tests). */
  get writesOnThread(): boolean {
    return this.db !== undefined && this.writerThread === undefined && this.db.onThread;
  }

  /**
   * Moves the writing connection to the writer thread once it has started (or, `wait`, once it
   * will have): between transactions, so nothing is open on the connection left behind. A thread
   * that could not open the file leaves the writes here, as they were.
   */
  private adoptWriterThread(wait: boolean): void {
    const thread = this.writerThread;
    if (thread === undefined || this.db === undefined || (!wait && !thread.started())) return;
    this.writerThread = undefined;
    try {
      thread.awaitOpened();
      configureWriter(thread);
    } catch (error) {
      thread.abandon();
      if (wait) throw error;
      this.options.log?.warn({ path: this.options.path, err: (error as Error).message }, 'the SQLite writer thread could not open the store; writing from the main thread');
      return;
    }
    this.db.moveTo(thread);
  }

  private async openReadOnly(path: string): Promise<void> {
    let db: SqliteHandle;
    try {
      db = LocalSqliteHandle.open(path, { fileMustExist: true, timeout: this.options.busyTimeoutMs ?? 5000 });
    } catch (error) {
      throw new Error(`store ${path} cannot be opened for reading: ${(error as Error).message}`, { cause: error });
    }
    // A read-write handle kept query-only rather than a read-only one: it can recover the WAL a
    // killed daemon left behind, and open the file when no daemon runs and no -shm exists.
    db.pragma('query_only = ON');
    const reader = new SqliteConnection(db);
    if ((await storedVersion(reader, this.dialect)) === 0) {
      db.close();
      throw new Error(`store ${path} has not been initialised (no daemon has opened it yet)`);
    }
    this.db = new MovableHandle(db);
    this.readerConnection = reader;
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
    // Queued after every transaction already waiting, so those finish (or roll back) first.
    await this.mutex.run(() => fromSync(() => this.closeNow()));
  }

  private closeNow(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.writerThread?.abandon();
    this.writerThread = undefined;
    const db = this.db;
    if (!db) return;
    try {
      if (this.lock && !this.lockLost) this.lock.release();
    } finally {
      if (this.readerConnection && this.readerConnection.db !== db) this.readerConnection.db.close();
      db.close();
      this.db = undefined;
      this.session = undefined;
      this.readerConnection = undefined;
      this.streams.clear();
      this.closing = false;
    }
  }

  reader(): SqlConnection {
    if (!this.readerConnection) throw new Error(`${this.label} is not open`);
    return this.readerConnection;
  }

  async acquire(): Promise<DriverTransaction> {
    const release = await this.mutex.lock();
    try {
      this.adoptWriterThread(false);
      const { db, session } = this;
      if (!db || !session) throw new Error(`${this.label} is not open`);
      if (this.lockLost && this.lock) throw this.lock.lostError();
      return {
        session,
        begin: () =>
          fromSync(() => {
            db.exec('BEGIN IMMEDIATE');
          }),
        commit: () =>
          fromSync(() => {
            // Fencing: a daemon that was frozen past the stale timeout may have been replaced.
            if (this.lock && !this.lock.refresh()) {
              this.markLockLost();
              throw this.lock.lostError();
            }
            db.exec('COMMIT');
          }),
        rollback: () =>
          fromSync(() => {
            if (db.inTransaction) db.exec('ROLLBACK');
          }),
        release,
      };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** One daemon writes the file, so a stream's lease is held in this process. */
  lockStream(streamId: string): Promise<boolean> {
    if (this.streams.has(streamId)) return Promise.resolve(false);
    this.streams.add(streamId);
    return Promise.resolve(true);
  }

  unlockStream(streamId: string): Promise<void> {
    this.streams.delete(streamId);
    return Promise.resolve();
  }
}

/** The writing connection's settings (journal_mode, which the file keeps, is set once at open). */
function configureWriter(db: SqliteHandle): void {
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // Keeps the WAL file from staying huge after a full load was checkpointed.
  db.pragma('journal_size_limit = 67108864');
  // 16 MB of page cache: a full load (its pages written once, in key order) spends less CPU on the
  // writer thread with 16 MB than with 32 MB (fewer fresh pages to fault in, less left to write at
  // the COMMIT) and peaks ~15 MB lower (bench/sdmx-scale.ts); 64 MB was no faster.
  db.pragma('cache_size = -16384');
}
