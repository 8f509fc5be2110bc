import pg from 'pg';
import type { Logger } from 'pino';
import { assertIdentifier } from '../identifiers.js';
import type { DriverTransaction, SqlConnection, SqlDialect, SqlDriver } from '../sql/engine.js';
import { migrate, storedVersion } from '../sql/migrations.js';
import { ConnectionLoss, PostgresConnection } from './postgres-connection.js';
import { postgresDialect } from './postgres-dialect.js';
import { PostgresLeaseLocks } from './postgres-leases.js';
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
 * The shared engine's connections: a pool, one connection per transaction, so streams commit in
 * parallel and several daemons may share one database. Leases use advisory locks on a connection
 * of their own.
 */
export class PostgresDriver implements SqlDriver {
  readonly engine = 'postgres';
  readonly singleWriter = false;
  readonly dialect: SqlDialect;
  readonly label: string;
  readonly readOnly: boolean;
  private readonly schemaName: string;
  private pool: pg.Pool | undefined;
  private readerConnection: PostgresConnection | undefined;
  private locks: PostgresLeaseLocks | undefined;

  constructor(private readonly options: PostgresStoreOptions) {
    this.schemaName = assertIdentifier(options.schema ?? 'public', 'schema name');
    this.dialect = postgresDialect(this.schemaName);
    this.label = `store (schema ${this.schemaName})`;
    this.readOnly = options.readOnly ?? false;
  }

  private get log(): Logger | undefined {
    return this.options.log;
  }

  async open(): Promise<void> {
    if (this.pool) return;
    const pool = new pg.Pool({ connectionString: this.options.url, max: this.options.poolSize ?? 10, types });
    // An idle connection dropped by the server must not crash the daemon; the next query reconnects.
    pool.on('error', (error) => this.log?.warn({ err: error.message }, 'an idle PostgreSQL connection failed'));
    this.pool = pool;
    this.readerConnection = new PostgresConnection(pool, this.schemaName);
    try {
      if (this.readOnly) {
        if ((await storedVersion(this.readerConnection, this.dialect)) === 0) {
          throw new Error(`schema ${this.schemaName} holds no dataspace-sync store yet (no daemon has opened it)`);
        }
      } else {
        const applied = await migrate(this, {
          // Daemons starting together on an empty schema: one migrates, the others wait, then find nothing to do.
          before: async (session) => {
            await session.run("SELECT pg_advisory_xact_lock(hashtextextended('dataspace-sync:migrate:' || $1, 0))", [{ value: this.schemaName, type: 'text' }]);
            await session.run(`CREATE SCHEMA IF NOT EXISTS ${this.dialect.quote(this.schemaName, 'schema name')}`);
          },
        });
        if (applied.length > 0) this.log?.info({ schema: this.schemaName, versions: applied }, 'store schema migrated');
      }
    } catch (error) {
      this.pool = undefined;
      this.readerConnection = undefined;
      await pool.end().catch(() => undefined);
      throw new Error(`PostgreSQL store (schema ${this.schemaName}): ${(error as Error).message}`, { cause: error });
    }
    this.locks = new PostgresLeaseLocks({ connectionString: this.options.url, types }, this.schemaName, this.log);
  }

  async close(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    await this.locks?.close();
    this.locks = undefined;
    this.pool = undefined;
    this.readerConnection = undefined;
    await pool.end();
  }

  reader(): SqlConnection {
    if (!this.readerConnection) throw new Error(`${this.label} is not open`);
    return this.readerConnection;
  }

  /**
   * A pooled client for one transaction. While it is checked out the pool does not listen to it,
   * so it gets a listener of its own: when the server drops it (a restart, an administrator's
   * pg_terminate_backend) the 'error' event would otherwise crash the process. The loss is kept
   * (ConnectionLoss) as the cause every later statement fails with, the transaction ends as a
   * failure (the server has rolled it back), and the client is released as broken so the pool
   * replaces it.
   */
  async acquire(): Promise<DriverTransaction> {
    if (!this.pool) throw new Error(`${this.label} is not open`);
    const client = await this.pool.connect();
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

  lockStream(streamId: string): Promise<boolean> {
    return this.leaseLocks().tryLock(streamId);
  }

  unlockStream(streamId: string): Promise<void> {
    return this.locks?.unlock(streamId) ?? Promise.resolve();
  }

  private leaseLocks(): PostgresLeaseLocks {
    if (!this.locks) throw new Error(`${this.label} is not open`);
    return this.locks;
  }
}
