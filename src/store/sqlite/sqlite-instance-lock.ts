import { hostname } from 'node:os';
import { StoreLockedError } from '../store.js';
import type { SqliteHandle } from './sqlite-handle.js';

/** The lock's table, created with the store's first schema version (sql/migrations.ts runs it). */
export const INSTANCE_LOCK_TABLE_SQL = `CREATE TABLE dss_instance_lock (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  owner TEXT NOT NULL,
  acquired_at TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL
)`;

interface LockRow {
  owner: string;
  acquired_at: string;
  heartbeat_at: string;
}

export interface InstanceLockOptions {
  readonly path: string;
  readonly owner: string;
  /** A holder silent for longer than this is taken for dead and replaced. */
  readonly staleAfterMs: number;
  readonly now?: () => Date;
}

/**
 * One writing daemon per SQLite file: a row naming the holder, refreshed by its heartbeat. A row
 * whose heartbeat went quiet belongs to a dead (or frozen) process and is taken over. The holder
 * re-checks the row in each of its commits, so a frozen daemon that lost the row cannot commit
 * after waking up.
 */
export class SqliteInstanceLock {
  private readonly now: () => Date;

  constructor(
    private readonly db: SqliteHandle,
    private readonly options: InstanceLockOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  get owner(): string {
    return this.options.owner;
  }

  /** Takes the lock or throws StoreLockedError; returns the previous holder when a stale lock was taken over. */
  acquire(): LockRow | undefined {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      if (isBusy(error)) {
        throw new StoreLockedError(
          `store ${this.options.path} is busy: another process holds its write lock (a second daemon writing to it?); only one daemon may write a SQLite store`,
        );
      }
      throw error;
    }
    try {
      const now = this.now();
      const held = this.holder();
      if (held && held.owner !== this.options.owner) {
        const silentMs = now.getTime() - Date.parse(held.heartbeat_at);
        if (silentMs < this.options.staleAfterMs && !deadOnThisHost(held.owner)) {
          throw new StoreLockedError(
            `store ${this.options.path} is held by another daemon (${held.owner}) since ${held.acquired_at}, last heartbeat ${held.heartbeat_at}; ` +
              `only one daemon may write a SQLite store (use a read-only open for status, or wait ${Math.ceil((this.options.staleAfterMs - silentMs) / 1000)} s if that daemon is gone)`,
          );
        }
      }
      const stamp = now.toISOString();
      this.db.run(
        'INSERT INTO dss_instance_lock (id, owner, acquired_at, heartbeat_at) VALUES (1, ?, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at',
        [this.options.owner, stamp, stamp],
      );
      this.db.exec('COMMIT');
      return held && held.owner !== this.options.owner ? held : undefined;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Refreshes the heartbeat; false when another daemon has taken the lock in the meantime. */
  refresh(): boolean {
    return this.db.run('UPDATE dss_instance_lock SET heartbeat_at = ? WHERE id = 1 AND owner = ?', [this.now().toISOString(), this.options.owner]) === 1;
  }

  /** Who holds the lock now, for the error raised when this daemon lost it. */
  holder(): LockRow | undefined {
    return this.db.get('SELECT owner, acquired_at, heartbeat_at FROM dss_instance_lock WHERE id = 1') as LockRow | undefined;
  }

  release(): void {
    this.db.run('DELETE FROM dss_instance_lock WHERE id = 1 AND owner = ?', [this.options.owner]);
  }

  lostError(): StoreLockedError {
    const holder = this.holder();
    return new StoreLockedError(
      `store ${this.options.path}: this daemon (${this.options.owner}) lost its instance lock` +
        (holder ? ` to ${holder.owner} (since ${holder.acquired_at})` : '') +
        '; it was silent past the stale timeout. Writes are refused; restart the daemon.',
    );
  }
}

/**
 * A holder named `host:pid:...` (the default owner) on this very host whose process no longer
 * exists: a daemon killed (SIGKILL, OOM) and restarted by its supervisor need not wait out the
 * stale timeout. A pid that answers, or another host, leaves it to the heartbeat; and a wrongful
 * takeover (two containers given the same hostname) is still fenced: the loser's commits fail.
 */
function deadOnThisHost(owner: string): boolean {
  const [host, pidText] = owner.split(':');
  if (host !== hostname() || pidText === undefined || !/^\d+$/.test(pidText)) return false;
  const pid = Number(pidText);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_LOCKED';
}
