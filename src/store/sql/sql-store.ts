import type { SyncState } from '../../core/sync-state.js';
import type { ColumnSpec, SqlValue, TableSpec, ViewSpec } from '../../core/tables.js';
import { StoreSchemaError, type Lease, type Store, type StoreTransaction } from '../store.js';
import type { EngineSession, SqlDriver } from './engine.js';
import { DSS_TABLES, DSS_VIEWS } from './internal-tables.js';
import { asText, readCell } from './read-values.js';
import type { SpecCache, SqlCatalog } from './sql-catalog.js';
import { SqlTransaction, runInTransaction } from './sql-transaction.js';
import { clearLeaseOwner, listStates, readState, takeLeaseEpoch } from './state-table.js';
import { specFromJson } from './table-spec.js';
import { TransactionScope } from './transaction-scope.js';
import { planView } from './view-sql.js';

/**
 * The Store port for every SQL engine, over the driver it is handed (sql/engine.ts): transactions,
 * their guarded handle, sync_state, leases and reading tables back are the same everywhere; the
 * engine only connects, runs statements and writes in bulk.
 */
export class SqlStore implements Store {
  readonly engine: string;
  private readonly scope = new TransactionScope();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly cache: SpecCache | undefined;
  private isOpen = false;
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly driver: SqlDriver) {
    this.engine = driver.engine;
    this.cache = driver.singleWriter ? new Map() : undefined;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    this.opening ??= this.driver.open().finally(() => {
      this.opening = undefined;
    });
    await this.opening;
    this.isOpen = true;
  }

  /** Waits for the transactions already started (they commit or roll back), then closes; refuses new ones meanwhile. */
  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.closing ??= (async () => {
      try {
        await Promise.allSettled([...this.inFlight]);
        await this.driver.close();
      } finally {
        this.isOpen = false;
        this.cache?.clear();
        this.closing = undefined;
      }
    })();
    await this.closing;
  }

  async ping(): Promise<void> {
    await this.driver.reader().all('SELECT 1');
  }

  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    return this.withSession(async (session, catalog) => {
      const tx = new SqlTransaction(session, catalog);
      try {
        return await this.scope.run(() => fn(tx));
      } finally {
        tx.finish();
      }
    });
  }

  async readState(streamId: string): Promise<SyncState | undefined> {
    return readState(this.driver.reader(), this.driver.dialect, streamId);
  }

  async listStates(): Promise<SyncState[]> {
    return listStates(this.driver.reader(), this.driver.dialect);
  }

  /**
   * The driver's stream lock keeps other runs out (an in-process set for SQLite's single daemon, an
   * advisory lock shared by every daemon on PostgreSQL); the epoch it starts in sync_state fences
   * the commits of any run that held the stream before, should two ever overlap.
   */
  async acquireLease(streamId: string, owner: string): Promise<Lease | undefined> {
    if (this.driver.readOnly) throw new Error(`${this.driver.label} is open read-only: leases are refused`);
    if (!(await this.driver.lockStream(streamId))) return undefined;
    let epoch: number;
    try {
      epoch = await this.withSession((session) => takeLeaseEpoch(session, this.driver.dialect, streamId, owner));
    } catch (error) {
      await this.driver.unlockStream(streamId);
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
          if (this.isOpen && this.closing === undefined) {
            await this.withSession((session) => clearLeaseOwner(session, this.driver.dialect, streamId, epoch));
          }
        } finally {
          await this.driver.unlockStream(streamId);
        }
      },
    };
  }

  /** Also reads the views made by ensureView (ordered by their base table's key), for inspection. */
  async readTable(table: string): Promise<Record<string, SqlValue>[]> {
    const { dialect } = this.driver;
    const conn = this.driver.reader();
    const specOf = async (name: string): Promise<TableSpec | undefined> => {
      const rows = await conn.all(`SELECT spec FROM ${dialect.relation(DSS_TABLES.name)} WHERE name = ${dialect.param(0)}`, [{ value: name, type: 'text' }]);
      return rows[0] ? specFromJson(asText(rows[0].spec)) : undefined;
    };
    let relation: { name: string; columns: readonly ColumnSpec[]; orderBy: readonly string[] };
    const spec = await specOf(table);
    if (spec) {
      relation = { name: spec.name, columns: spec.columns, orderBy: spec.primaryKey };
    } else {
      const views = await conn.all(`SELECT name, spec FROM ${dialect.relation(DSS_VIEWS.name)} WHERE name = ${dialect.param(0)}`, [{ value: table, type: 'text' }]);
      const row = views[0];
      if (!row) throw new StoreSchemaError(`table ${JSON.stringify(table)} is unknown to the store`);
      const viewSpec = JSON.parse(asText(row.spec)) as ViewSpec;
      const specs = new Map<string, TableSpec | undefined>();
      for (const name of [viewSpec.from, ...viewSpec.leftJoins.map((join) => join.table)]) specs.set(name, await specOf(name));
      relation = { name: asText(row.name), ...planView(viewSpec, (name) => specs.get(name), dialect) };
    }
    const orderBy = relation.orderBy.map((name) => dialect.orderBy(relation.columns.find((column) => column.name === name) ?? { name, type: 'text' }));
    const rows = await conn.all(`SELECT * FROM ${dialect.relation(relation.name)} ORDER BY ${orderBy.join(', ')}`);
    return rows.map((stored) => {
      const out: Record<string, SqlValue> = {};
      for (const column of relation.columns) out[column.name] = readCell(column.type, stored[column.name]);
      return out;
    });
  }

  /** A transaction of the store's own: refused when read-only, nested or closing; awaited by close(). */
  private async withSession<T>(fn: (session: EngineSession, catalog: SqlCatalog) => Promise<T>): Promise<T> {
    if (this.driver.readOnly) throw new Error(`${this.driver.label} is open read-only: writes are refused`);
    this.scope.assertNotNested();
    if (this.closing !== undefined) throw new Error(`${this.driver.label} is closing`);
    const run = runInTransaction(this.driver, this.cache, fn);
    this.inFlight.add(run);
    try {
      return await run;
    } finally {
      this.inFlight.delete(run);
    }
  }
}
