import pg from 'pg';
import { assertIdentifier } from '../identifiers.js';
import type { DriverTransaction, EngineSession, SqlConnection } from '../sql/engine.js';
import { SharedSqlDriver } from '../sql/shared-driver.js';
import type { LockConnection } from '../sql/stream-locks.js';
import { ConnectionLoss, PostgresConnection } from './postgres-connection.js';
import { postgresDialect } from './postgres-dialect.js';
import { postgresLeaseConnection } from './postgres-leases.js';
import { PostgresSession } from './postgres-session.js';
import type { PostgresStoreOptions } from './postgres-store.js';

const JSON_OID = 114;
const JSONB_OID = 3802;

/**
 * json columns come back as the text that was stored (pg would parse them into objects); int8 stays
 * pg's default decimal text, turned into number or bigint by readCell.
 */
type ValueParser = (value: string) => unknown;
const keepText: ValueParser = (value) => value;
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): ValueParser =>
    oid === JSON_OID || oid === JSONB_OID ? keepText : (pg.types.getTypeParser(oid, format ?? 'text') as ValueParser)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * The shared engine's connections (docs/architecture.md, "The store"): a pool, one connection per transaction, so streams commit in
 * parallel and several daemons may share one database. Leases use advisory locks on a connection
 * of their own (postgres-leases.ts).
 */
export class PostgresDriver extends SharedSqlDriver<pg.Pool> {
  readonly engine = 'postgres';

  constructor(private readonly options: PostgresStoreOptions) {
    const schema = assertIdentifier(options.schema ?? 'public', 'schema name');
    super('PostgreSQL', postgresDialect(schema), schema, options.readOnly ?? false, options.log);
  }

  protected connect(): Promise<pg.Pool> {
    const pool = new pg.Pool({ connectionString: this.options.url, max: this.options.poolSize ?? 10, types });
    // An idle connection dropped by the server must not crash the daemon; the next query reconnects.
    pool.on('error', (error) => this.log?.warn({ err: error.message }, 'an idle PostgreSQL connection failed'));
    return Promise.resolve(pool);
  }

  protected end(pool: pg.Pool): Promise<void> {
    return pool.end();
  }

  protected readerOf(pool: pg.Pool): SqlConnection {
    return new PostgresConnection(pool, this.schemaName);
  }

  protected async beforeMigrate(session: EngineSession): Promise<void> {
    await session.run("SELECT pg_advisory_xact_lock(hashtextextended('dataspace-sync:migrate:' || $1, 0))", [{ value: this.schemaName, type: 'text' }]);
    await session.run(`CREATE SCHEMA IF NOT EXISTS ${this.dialect.quote(this.schemaName, 'schema name')}`);
  }

  protected lockConnection(): LockConnection<unknown> {
    return postgresLeaseConnection({ connectionString: this.options.url, types }, this.schemaName);
  }

  /**
   * A pooled client for one transaction. While it is checked out the pool does not listen to it,
   * so it gets a listener of its own: when the server drops it (a restart, an administrator's
   * pg_terminate_backend) the 'error' event would otherwise crash the process. The loss is kept
   * (ConnectionLoss) as the cause every later statement fails with, the transaction ends as a
   * failure (the server has rolled it back), and the client is released as broken so the pool
   * replaces it.
   */
  protected async transaction(pool: pg.Pool): Promise<DriverTransaction> {
    const client = await pool.connect();
    const loss = new ConnectionLoss();
    const onError = (error: Error): void => {
      loss.record(error);
      this.log?.warn({ err: error.message }, 'a PostgreSQL connection failed during a transaction');
    };
    client.on('error', onError);
    const session = new PostgresSession(client, this.schemaName, loss);
    return {
      session,
      begin: async () => {
        await session.run('BEGIN');
      },
      commit: async () => {
        await session.run('COMMIT');
      },
      rollback: async () => {
        await session.run('ROLLBACK');
      },
      release: (broken) => {
        client.removeListener('error', onError);
        client.release(broken ?? loss.error);
      },
    };
  }
}
