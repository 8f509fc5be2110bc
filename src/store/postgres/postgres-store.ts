import pg from 'pg';
import type { Logger } from 'pino';
import type { ApplyCounts, ChangeOp } from '../../core/ops.js';
import type { SyncState } from '../../core/sync-state.js';
import type { ColumnSpec, SqlValue, TableSpec, ViewSpec } from '../../core/tables.js';
import { assertIdentifier } from '../identifiers.js';
import { LeaseLostError, StoreSchemaError, type Lease, type Store, type StoreTransaction } from '../store.js';
import { quoteIdent } from '../sql/quote.js';
import { readCell } from '../sql/read-values.js';
import { STATE_COLUMNS, rowToState, stateToRow } from '../sql/state-row.js';
import { specFromJson } from '../sql/table-spec.js';
import { TransactionScope } from '../sql/transaction-scope.js';
import { planView } from '../sql/view-sql.js';
import { PostgresCatalog } from './postgres-catalog.js';
import { PostgresChangeApplier } from './postgres-change-applier.js';
import { PostgresLeaseLocks } from './postgres-leases.js';
import { migratePostgres, storedPostgresVersion } from './postgres-migrations.js';

export interface PostgresStoreOptions {
  /** Connection URL, e.g. postgres://user:secret@db:5432/mirror. */
  readonly url: string;
  /** Schema holding the mirror and sync_state (created if missing); default "public". */
  readonly schema?: string;
  /** For `status`: no migration, writes refused. */
  readonly readOnly?: boolean;
  readonly log?: Logger;
  /** Connections in the pool (default 10): one per concurrent transaction, plus reads. */
  readonly poolSize?: number;
}

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
 * The shared engine (docs/architecture.md, "The store"): a pool of connections, one per transaction, so streams commit in
 * parallel and several daemons may share one database. Leases use advisory locks; every commit of a
 * stream's state is fenced by its lease epoch, read under a row lock.
 */
export class PostgresStore implements Store {
  readonly engine = 'postgres';
  private pool: pg.Pool | undefined;
  private locks: PostgresLeaseLocks | undefined;
  private readonly schemaName: string;
  private readonly schema: string;
  private readonly scope = new TransactionScope();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing = false;

  constructor(private readonly options: PostgresStoreOptions) {
    this.schemaName = assertIdentifier(options.schema ?? 'public', 'schema name');
    this.schema = quoteIdent(this.schemaName, 'schema name');
  }

  async open(): Promise<void> {
    if (this.pool) return;
    const config: pg.PoolConfig = { connectionString: this.options.url, max: this.options.poolSize ?? 10, types };
    const pool = new pg.Pool(config);
    // An idle connection dropped by the server must not crash the daemon; the next query reconnects.
    pool.on('error', (error) => this.options.log?.warn({ err: error.message }, 'an idle PostgreSQL connection failed'));
    try {
      const client = await pool.connect();
      try {
        if (this.options.readOnly) {
          if ((await storedPostgresVersion(client, this.schema)) === 0) {
            throw new Error(`schema ${this.schemaName} holds no dataspace-sync store yet (no daemon has opened it)`);
          }
        } else {
          const applied = await migratePostgres(client, this.schema, this.schemaName);
          if (applied.length > 0) this.options.log?.info({ schema: this.schemaName, versions: applied }, 'store schema migrated');
        }
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new Error(`PostgreSQL store (schema ${this.schemaName}): ${(error as Error).message}`, { cause: error });
    }
    this.pool = pool;
    this.locks = new PostgresLeaseLocks({ connectionString: this.options.url, types }, this.schemaName, this.options.log);
  }

  async close(): Promise<void> {
    const pool = this.pool;
    if (!pool || this.closing) return;
    this.closing = true;
    await Promise.allSettled([...this.inFlight]);
    await this.locks?.close();
    this.pool = undefined;
    await pool.end();
  }

  async ping(): Promise<void> {
    await this.connectionPool().query('SELECT 1');
  }

  async transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    if (this.options.readOnly) throw new Error(`store (schema ${this.schemaName}) is open read-only: writes are refused`);
    this.scope.assertNotNested();
    if (this.closing) throw new Error(`store (schema ${this.schemaName}) is closing`);
    const run = this.runTransaction(fn);
    this.inFlight.add(run);
    try {
      return await run;
    } finally {
      this.inFlight.delete(run);
    }
  }

  private async runTransaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    const client = await this.connectionPool().connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const catalog = new PostgresCatalog(client, this.schemaName);
      const tx = new PostgresTransaction(client, this.schema, new PostgresChangeApplier(client, catalog));
      try {
        const result = await this.scope.run(() => fn(tx));
        tx.finish();
        await catalog.beforeCommit();
        await client.query('COMMIT');
        return result;
      } catch (error) {
        tx.finish();
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          // A connection that cannot roll back is not fit to go back to the pool.
          broken = rollbackError as Error;
        });
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }

  async readState(streamId: string): Promise<SyncState | undefined> {
    const result = await this.connectionPool().query(`SELECT * FROM ${this.schema}.sync_state WHERE stream_id = $1`, [streamId]);
    const row = result.rows[0] as Record<string, unknown> | undefined;
    return row ? rowToState(row) : undefined;
  }

  async listStates(): Promise<SyncState[]> {
    const result = await this.connectionPool().query(`SELECT * FROM ${this.schema}.sync_state ORDER BY stream_id`);
    return (result.rows as Record<string, unknown>[]).map(rowToState);
  }

  async acquireLease(streamId: string, owner: string): Promise<Lease | undefined> {
    if (this.options.readOnly) throw new Error(`store (schema ${this.schemaName}) is open read-only: leases are refused`);
    const locks = this.leaseLocks();
    if (!(await locks.tryLock(streamId))) return undefined;
    let epoch: number;
    try {
      // A placeholder row carries the epoch until the runner writes the stream's real state.
      const result = await this.connectionPool().query<{ lease_epoch: string }>(
        `INSERT INTO ${this.schema}.sync_state AS s (stream_id, job_id, kind, status, lease_owner, lease_epoch) VALUES ($1, '', '', 'idle', $2, 1)
         ON CONFLICT (stream_id) DO UPDATE SET lease_owner = EXCLUDED.lease_owner, lease_epoch = s.lease_epoch + 1 RETURNING lease_epoch`,
        [streamId, owner],
      );
      epoch = Number(result.rows[0]?.lease_epoch);
    } catch (error) {
      await locks.unlock(streamId);
      throw error;
    }
    let released = false;
    return {
      streamId,
      owner,
      epoch,
      release: async () => {
        if (released) return;
        released = true;
        try {
          if (this.pool && !this.closing) {
            await this.pool.query(`UPDATE ${this.schema}.sync_state SET lease_owner = NULL WHERE stream_id = $1 AND lease_epoch = $2`, [streamId, epoch]);
          }
        } finally {
          await locks.unlock(streamId);
        }
      },
    };
  }

  /** Also reads the views made by ensureView (ordered by their base table's key), for inspection. */
  async readTable(table: string): Promise<Record<string, SqlValue>[]> {
    const pool = this.connectionPool();
    const specOf = async (name: string): Promise<TableSpec | undefined> => {
      const result = await pool.query<{ spec: string }>(`SELECT spec FROM ${this.schema}.dss_tables WHERE name = $1`, [name]);
      return result.rows[0] ? specFromJson(result.rows[0].spec) : undefined;
    };
    let relation: { name: string; columns: readonly ColumnSpec[]; orderBy: readonly string[] };
    const spec = await specOf(table);
    if (spec) {
      relation = { name: spec.name, columns: spec.columns, orderBy: spec.primaryKey };
    } else {
      const view = await pool.query<{ name: string; spec: string }>(`SELECT name, spec FROM ${this.schema}.dss_views WHERE name = $1`, [table]);
      const row = view.rows[0];
      if (!row) throw new StoreSchemaError(`table ${JSON.stringify(table)} is unknown to the store`);
      const viewSpec = JSON.parse(row.spec) as ViewSpec;
      const specs = new Map<string, TableSpec | undefined>();
      for (const name of [viewSpec.from, ...viewSpec.leftJoins.map((join) => join.table)]) specs.set(name, await specOf(name));
      relation = { name: row.name, ...planView(viewSpec, (name) => specs.get(name)) };
    }
    // COLLATE "C": byte order, the order SQLite gives, whatever the database's locale.
    const orderBy = relation.orderBy
      .map((name) => (relation.columns.find((column) => column.name === name)?.type === 'text' ? `${quoteIdent(name)} COLLATE "C"` : quoteIdent(name)))
      .join(', ');
    const result = await pool.query(`SELECT * FROM ${this.schema}.${quoteIdent(relation.name)} ORDER BY ${orderBy}`);
    return (result.rows as Record<string, unknown>[]).map((stored) => {
      const out: Record<string, SqlValue> = {};
      for (const column of relation.columns) out[column.name] = readCell(column.type, stored[column.name]);
      return out;
    });
  }

  private connectionPool(): pg.Pool {
    if (!this.pool) throw new Error(`store (schema ${this.schemaName}) is not open`);
    return this.pool;
  }

  private leaseLocks(): PostgresLeaseLocks {
    if (!this.locks || this.closing) throw new Error(`store (schema ${this.schemaName}) is not open`);
    return this.locks;
  }
}

const STATE_UPSERT = (schema: string): string =>
  `INSERT INTO ${schema}.sync_state (${STATE_COLUMNS.join(', ')}) VALUES (${STATE_COLUMNS.map((_, index) => `$${index + 1}`).join(', ')})
   ON CONFLICT (stream_id) DO UPDATE SET ${STATE_COLUMNS.filter((column) => column !== 'stream_id')
     .map((column) => `${column} = EXCLUDED.${column}`)
     .join(', ')}`;

/** The handle a transaction's callback gets; it refuses use after the transaction ended. */
class PostgresTransaction implements StoreTransaction {
  private done = false;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly schema: string,
    private readonly applier: PostgresChangeApplier,
  ) {}

  finish(): void {
    this.done = true;
  }

  async apply(ops: readonly ChangeOp[]): Promise<ApplyCounts> {
    this.assertOpen();
    return this.applier.apply(ops);
  }

  async readState(streamId: string): Promise<SyncState | undefined> {
    this.assertOpen();
    const result = await this.client.query(`SELECT * FROM ${this.schema}.sync_state WHERE stream_id = $1`, [streamId]);
    const row = result.rows[0] as Record<string, unknown> | undefined;
    return row ? rowToState(row) : undefined;
  }

  /** The row lock makes the epoch check and the write one step against a concurrent lease taker. */
  async writeState(state: SyncState): Promise<void> {
    this.assertOpen();
    const stored = await this.client.query<{ lease_epoch: string }>(`SELECT lease_epoch FROM ${this.schema}.sync_state WHERE stream_id = $1 FOR UPDATE`, [
      state.streamId,
    ]);
    const storedEpoch = stored.rows[0] ? Number(stored.rows[0].lease_epoch) : undefined;
    if (storedEpoch !== undefined && state.leaseEpoch < storedEpoch) throw new LeaseLostError(state.streamId, state.leaseEpoch, storedEpoch);
    const row = stateToRow(state);
    await this.client.query(STATE_UPSERT(this.schema), STATE_COLUMNS.map((column) => row[column]));
  }

  private assertOpen(): void {
    if (this.done) throw new Error('this transaction has already ended; use the tx of the current transaction');
  }
}
