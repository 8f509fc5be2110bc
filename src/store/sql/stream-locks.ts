import { AsyncMutex } from './async-mutex.js';

/**
 * The connection a shared engine holds its stream locks on, as the engine speaks to it:
 * PostgreSQL's session advisory locks, SQL Server's transaction-owned application locks.
 */
export interface LockConnection<C> {
  /** Opens the connection; `lost` is called once if the server or the network ends it later. */
  connect(lost: (error: Error) => void): Promise<C>;
  /** True when the lock on `name` was granted at once; false when another holder has it. */
  tryLock(connection: C, name: string): Promise<boolean>;
  unlock(connection: C, name: string): Promise<void>;
  /** Ends the connection: the server frees every lock still held on it. */
  end(connection: C): Promise<void>;
}

/**
 * Stream leases across daemons, written once for every shared engine: every lock of this process
 * lives on one dedicated connection for as long as the runs last. If that connection dies the
 * server frees the locks, another daemon may take the streams, and the epoch in sync_state fences
 * the old runs' commits. Runs inside this process are kept apart by the in-process set as well
 * (locks may stack within one connection).
 *
 * Streams take and release leases at the same moments, but a connection runs one request at a
 * time (pg 9 refuses a second, mssql throws EREQINPROG): they take turns here.
 */
export class StreamLocks<C> {
  private connection: Promise<C> | undefined;
  private readonly held = new Set<string>();
  private readonly turns = new AsyncMutex();

  constructor(
    private readonly engine: LockConnection<C>,
    /** Called when the lock connection is lost, for the log. */
    private readonly onLost: (error: Error) => void,
  ) {}

  /** True when this process now holds the lock on `name`. */
  async tryLock(name: string): Promise<boolean> {
    if (this.held.has(name)) return false;
    this.held.add(name);
    try {
      if (await this.turn((connection) => this.engine.tryLock(connection, name))) return true;
    } catch (error) {
      this.held.delete(name);
      throw error;
    }
    this.held.delete(name);
    return false;
  }

  async unlock(name: string): Promise<void> {
    if (!this.held.delete(name)) return;
    // A lost connection already released the lock on the server.
    if (!this.connection) return;
    await this.turn((connection) => this.engine.unlock(connection, name), false).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.held.clear();
    // After the requests already waiting their turn.
    await this.turns.run(async () => {
      const connection = this.connection;
      this.connection = undefined;
      const open = await connection?.catch(() => undefined);
      if (open !== undefined) await this.engine.end(open).catch(() => undefined);
    });
  }

  /** Runs on the lock connection once the requests before it are done; `connect` false: not on a new connection. */
  private turn<T>(fn: (connection: C) => Promise<T>, connect = true): Promise<T> {
    return this.turns.run(async () => {
      if (!connect && !this.connection) throw new Error('the lease connection is gone');
      return fn(await this.open());
    });
  }

  private open(): Promise<C> {
    if (!this.connection) {
      const attempt = this.engine.connect((error) => {
        this.onLost(error);
        // `held` stays: the runs are still going here, and their commits are fenced by epoch.
        if (this.connection === attempt) this.connection = undefined;
      });
      attempt.catch(() => {
        if (this.connection === attempt) this.connection = undefined;
      });
      this.connection = attempt;
    }
    return this.connection;
  }
}
