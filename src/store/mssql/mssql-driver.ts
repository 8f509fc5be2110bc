import sql from 'mssql';
import type { Logger } from 'pino';
import { assertIdentifier } from '../identifiers.js';
import type { DriverTransaction, SqlConnection, SqlDialect, SqlDriver } from '../sql/engine.js';
import { migrate, storedVersion } from '../sql/migrations.js';
import { StreamLocks } from '../sql/stream-locks.js';
import { applockGranted, applockResource, getApplockSql } from './mssql-applock.js';
import { mssqlConfig } from './mssql-config.js';
import { MssqlConnection } from './mssql-connection.js';
import { mssqlDialect } from './mssql-dialect.js';
import { mssqlLeaseConnection } from './mssql-leases.js';
import { MssqlSession } from './mssql-session.js';
import type { MssqlStoreOptions } from './mssql-store.js';

/** How long a daemon waits for another one migrating the same schema. */
const MIGRATE_LOCK_TIMEOUT_MS = 120_000;

/**
 * SQL Server's connections: a pool, one connection per transaction (an mssql Transaction holds
 * its connection from BEGIN to COMMIT, so a #temp table made in it is there for its bulk loads
 * and statements), so streams commit in parallel and several daemons may share one database.
 * Leases use application locks on a connection of their own.
 */
export class MssqlDriver implements SqlDriver {
  readonly engine = 'mssql';
  readonly singleWriter = false;
  readonly dialect: SqlDialect;
  readonly label: string;
  readonly readOnly: boolean;
  private readonly schemaName: string;
  private readonly config: sql.config;
  private pool: sql.ConnectionPool | undefined;
  private readerConnection: MssqlConnection | undefined;
  private locks: StreamLocks<unknown> | undefined;

  constructor(private readonly options: MssqlStoreOptions) {
    this.schemaName = assertIdentifier(options.schema ?? 'dbo', 'schema name');
    this.dialect = mssqlDialect(this.schemaName);
    this.config = mssqlConfig(options);
    this.label = `store (SQL Server ${this.config.server}${this.config.database === undefined ? '' : `/${this.config.database}`}, schema ${this.schemaName})`;
    this.readOnly = options.readOnly ?? false;
  }

  private get log(): Logger | undefined {
    return this.options.log;
  }

  async open(): Promise<void> {
    if (this.pool) return;
    const pool = new sql.ConnectionPool(this.config);
    // An idle connection dropped by the server must not crash the daemon; the pool replaces it.
    pool.on('error', (error: Error) => this.log?.warn({ err: error.message }, 'an idle SQL Server connection failed'));
    try {
      await pool.connect();
      this.pool = pool;
      this.readerConnection = new MssqlConnection(pool, this.schemaName);
      if (this.readOnly) {
        if ((await storedVersion(this.readerConnection, this.dialect)) === 0) {
          throw new Error(`schema ${this.schemaName} holds no dataspace-sync store yet (no daemon has opened it)`);
        }
      } else {
        const applied = await migrate(this, {
          // Daemons starting together on an empty schema: one migrates, the others wait, then find nothing to do.
          before: async (session) => {
            const resource = applockResource('migrate', this.schemaName, '', true);
            if (!applockGranted(await session.all(getApplockSql(MIGRATE_LOCK_TIMEOUT_MS), [{ value: resource, type: 'text' }]), resource)) {
              throw new Error(`another daemon has been migrating schema ${this.schemaName} for over ${MIGRATE_LOCK_TIMEOUT_MS / 1000} s`);
            }
            // CREATE SCHEMA must start a batch of its own: EXEC gives it one.
            await session.run("IF SCHEMA_ID(@p1) IS NULL EXEC(N'CREATE SCHEMA ' + QUOTENAME(@p1))", [{ value: this.schemaName, type: 'text' }]);
          },
        });
        if (applied.length > 0) this.log?.info({ schema: this.schemaName, versions: applied }, 'store schema migrated');
        await this.warnWithoutRowVersions();
      }
    } catch (error) {
      this.pool = undefined;
      this.readerConnection = undefined;
      await pool.close().catch(() => undefined);
      throw new Error(`SQL Server store (schema ${this.schemaName}): ${(error as Error).message}`, { cause: error });
    }
    this.locks = new StreamLocks(mssqlLeaseConnection(this.config, this.schemaName), (error) =>
      this.log?.warn({ err: error.message }, 'the lease connection to SQL Server failed: its locks are released on the server; running streams are fenced by their epoch'),
    );
  }

  async close(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    await this.locks?.close();
    this.locks = undefined;
    this.pool = undefined;
    this.readerConnection = undefined;
    await pool.close();
  }

  reader(): SqlConnection {
    if (!this.readerConnection) throw new Error(`${this.label} is not open`);
    return this.readerConnection;
  }

  /**
   * An mssql Transaction: it takes a pooled connection at BEGIN and gives it back at COMMIT or
   * ROLLBACK. With XACT_ABORT ON the server may have rolled back already (mssql then refuses the
   * ROLLBACK, and the shared runner releases the transaction as broken).
   */
  acquire(): Promise<DriverTransaction> {
    if (!this.pool) return Promise.reject(new Error(`${this.label} is not open`));
    const transaction = new sql.Transaction(this.pool);
    const session = new MssqlSession(transaction, this.schemaName);
    return Promise.resolve({
      session,
      begin: async () => {
        await transaction.begin(sql.ISOLATION_LEVEL.READ_COMMITTED);
      },
      commit: async () => {
        await transaction.commit();
      },
      rollback: async () => {
        await transaction.rollback();
      },
      // mssql gives the connection back to the pool when the transaction ends, rolled back or not.
      release: () => undefined,
    });
  }

  lockStream(streamId: string): Promise<boolean> {
    if (!this.locks) return Promise.reject(new Error(`${this.label} is not open`));
    return this.locks.tryLock(streamId);
  }

  unlockStream(streamId: string): Promise<void> {
    return this.locks?.unlock(streamId) ?? Promise.resolve();
  }

  /**
   * Readers (status, readTable) and a transaction rebuilding a table must not wait for each
   * other, as they do not on PostgreSQL: that takes READ_COMMITTED_SNAPSHOT (on by default in
   * Azure SQL, off in SQL Server). Without it readers block behind open transactions.
   */
  private async warnWithoutRowVersions(): Promise<void> {
    const rows = await this.reader().all('SELECT [is_read_committed_snapshot_on] AS [on] FROM sys.databases WHERE [database_id] = DB_ID()');
    const on = rows[0]?.on;
    if (on === false || on === 0) {
      this.log?.warn({ schema: this.schemaName }, 'READ_COMMITTED_SNAPSHOT is off in this database: status and readers wait for running syncs (ALTER DATABASE ... SET READ_COMMITTED_SNAPSHOT ON)');
    }
  }
}
