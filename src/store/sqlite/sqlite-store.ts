import type { Logger } from 'pino';
import { SqlStore } from '../sql/sql-store.js';
import { SqliteDriver } from './sqlite-driver.js';

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
  /**
   * Wait at open for the writer thread, rather than write from the main thread until it has
   * started (tests that must run on it).
   */
  readonly awaitWriterThread?: boolean;
}

/** The embedded store (the default): the shared SQL store over the better-sqlite3 driver. */
export class SqliteStore extends SqlStore {
  constructor(options: SqliteStoreOptions) {
    super(new SqliteDriver(options));
  }
}
