import type { Logger } from 'pino';
import type { DriverTransaction, EngineSession, SqlConnection, SqlDialect, SqlDriver } from './engine.js';
import { migrate, storedVersion } from './migrations.js';
import { StreamLocks, type LockConnection } from './stream-locks.js';

/**
 * The lifecycle every engine shared by several daemons goes through, written once (PostgreSQL,
 * SQL Server): a pool in one schema; on open, either the check that a store exists (read-only, for
 * `status`) or the migrations under the engine's lock; stream locks on a connection of their own;
 * close in the reverse order. An engine supplies its pool, its reader, the statements that start
 * a migration, its lock connection, and its transactions.
 */
export abstract class SharedSqlDriver<P> implements SqlDriver {
  abstract readonly engine: string;
  readonly singleWriter = false;
  readonly label: string;
  private pool: P | undefined;
  private readerConnection: SqlConnection | undefined;
  private locks: StreamLocks<unknown> | undefined;

  constructor(
    /** Names the engine in messages: "PostgreSQL", "SQL Server". */
    private readonly title: string,
    readonly dialect: SqlDialect,
    protected readonly schemaName: string,
    readonly readOnly: boolean,
    protected readonly log: Logger | undefined,
    label?: string,
  ) {
    this.label = label ?? `store (schema ${schemaName})`;
  }

  /** A new pool; it may connect lazily. */
  protected abstract connect(): Promise<P>;
  protected abstract end(pool: P): Promise<void>;
  /** Reads outside transactions, on the pool. */
  protected abstract readerOf(pool: P): SqlConnection;
  /**
   * First in the migrating transaction: daemons starting together on an empty schema must take
   * turns (one migrates, the others wait, then find nothing to do); the schema is created here.
   */
  protected abstract beforeMigrate(session: EngineSession): Promise<void>;
  /** The connection stream locks are held on. */
  protected abstract lockConnection(): LockConnection<unknown>;
  /** A transaction on a pooled connection. */
  protected abstract transaction(pool: P): Promise<DriverTransaction>;
  /** After a writing open: checks that only warn. */
  protected afterMigrate(): Promise<void> {
    return Promise.resolve();
  }

  async open(): Promise<void> {
    if (this.pool) return;
    let pool: P | undefined;
    try {
      pool = await this.connect();
      this.pool = pool;
      this.readerConnection = this.readerOf(pool);
      if (this.readOnly) {
        if ((await storedVersion(this.readerConnection, this.dialect)) === 0) {
          throw new Error(`schema ${this.schemaName} holds no dataspace-sync store yet (no daemon has opened it)`);
        }
      } else {
        const applied = await migrate(this, { before: (session) => this.beforeMigrate(session) });
        if (applied.length > 0) this.log?.info({ schema: this.schemaName, versions: applied }, 'store schema migrated');
        await this.afterMigrate();
      }
    } catch (error) {
      this.pool = undefined;
      this.readerConnection = undefined;
      if (pool !== undefined) await this.end(pool).catch(() => undefined);
      throw new Error(`${this.title} store (schema ${this.schemaName}): ${(error as Error).message}`, { cause: error });
    }
    this.locks = new StreamLocks(this.lockConnection(), (error) =>
      this.log?.warn(
        { err: error.message },
        `the lease connection to ${this.title} failed: its locks are released on the server; running streams are fenced by their epoch`,
      ),
    );
  }

  async close(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    await this.locks?.close();
    this.locks = undefined;
    this.pool = undefined;
    this.readerConnection = undefined;
    await this.end(pool);
  }

  reader(): SqlConnection {
    if (!this.readerConnection) throw new Error(`${this.label} is not open`);
    return this.readerConnection;
  }

  acquire(): Promise<DriverTransaction> {
    if (!this.pool) return Promise.reject(new Error(`${this.label} is not open`));
    return this.transaction(this.pool);
  }

  lockStream(streamId: string): Promise<boolean> {
    if (!this.locks) return Promise.reject(new Error(`${this.label} is not open`));
    return this.locks.tryLock(streamId);
  }

  unlockStream(streamId: string): Promise<void> {
    return this.locks?.unlock(streamId) ?? Promise.resolve();
  }
}
