import sql from 'mssql';
import { assertIdentifier } from '../identifiers.js';
import type { DriverTransaction, EngineSession, SqlConnection } from '../sql/engine.js';
import { SharedSqlDriver } from '../sql/shared-driver.js';
import type { LockConnection } from '../sql/stream-locks.js';
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
 * Leases use application locks on a connection of their own (mssql-leases.ts).
 */
export class MssqlDriver extends SharedSqlDriver<sql.ConnectionPool> {
  readonly engine = 'mssql';
  private readonly config: sql.config;

  constructor(options: MssqlStoreOptions) {
    const schema = assertIdentifier(options.schema ?? 'dbo', 'schema name');
    const config = mssqlConfig(options);
    const where = `${config.server}${config.database === undefined ? '' : `/${config.database}`}`;
    super('SQL Server', mssqlDialect(schema), schema, options.readOnly ?? false, options.log, `store (SQL Server ${where}, schema ${schema})`);
    this.config = config;
  }

  protected async connect(): Promise<sql.ConnectionPool> {
    const pool = new sql.ConnectionPool(this.config);
    // An idle connection dropped by the server must not crash the daemon; the pool replaces it.
    pool.on('error', (error: Error) => this.log?.warn({ err: error.message }, 'an idle SQL Server connection failed'));
    try {
      await pool.connect();
    } catch (error) {
      await pool.close().catch(() => undefined);
      throw error;
    }
    return pool;
  }

  protected end(pool: sql.ConnectionPool): Promise<void> {
    return pool.close();
  }

  protected readerOf(pool: sql.ConnectionPool): SqlConnection {
    return new MssqlConnection(pool, this.schemaName);
  }

  protected async beforeMigrate(session: EngineSession): Promise<void> {
    const resource = applockResource('migrate', this.schemaName, '', true);
    if (!applockGranted(await session.all(getApplockSql(MIGRATE_LOCK_TIMEOUT_MS), [{ value: resource, type: 'text' }]), resource)) {
      throw new Error(`another daemon has been migrating schema ${this.schemaName} for over ${MIGRATE_LOCK_TIMEOUT_MS / 1000} s`);
    }
    // CREATE SCHEMA must start a batch of its own: EXEC gives it one.
    await session.run("IF SCHEMA_ID(@p1) IS NULL EXEC(N'CREATE SCHEMA ' + QUOTENAME(@p1))", [{ value: this.schemaName, type: 'text' }]);
  }

  protected lockConnection(): LockConnection<unknown> {
    return mssqlLeaseConnection(this.config, this.schemaName);
  }

  /**
   * An mssql Transaction: it takes a pooled connection at BEGIN and gives it back at COMMIT or
   * ROLLBACK. With XACT_ABORT ON the server may have rolled back already (mssql then refuses the
   * ROLLBACK, and the shared runner releases the transaction as broken).
   */
  protected transaction(pool: sql.ConnectionPool): Promise<DriverTransaction> {
    const transaction = new sql.Transaction(pool);
    return Promise.resolve({
      session: new MssqlSession(transaction, this.schemaName),
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

  /**
   * Readers (status, readTable) and a transaction rebuilding a table must not wait for each
   * other, as they do not on PostgreSQL: that takes READ_COMMITTED_SNAPSHOT (on by default in
   * Azure SQL, off in SQL Server). Without it readers block behind open transactions.
   */
  protected override async afterMigrate(): Promise<void> {
    const rows = await this.reader().all('SELECT [is_read_committed_snapshot_on] AS [on] FROM sys.databases WHERE [database_id] = DB_ID()');
    const on = rows[0]?.on;
    if (on === false || on === 0) {
      this.log?.warn({ schema: this.schemaName }, 'READ_COMMITTED_SNAPSHOT is off in this database: status and readers wait for running syncs (ALTER DATABASE ... SET READ_COMMITTED_SNAPSHOT ON)');
    }
  }
}
