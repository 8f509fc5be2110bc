import type { ChangeHistory } from '../../core/change-history.js';
import type { SyncState } from '../../core/sync-state.js';
import type { SqlValue } from '../../core/tables.js';
import { StoreSchemaError, type Lease, type LeaseFence, type Store, type StoreTransaction } from '../store.js';
import type {
  DeliveryShape,
  DeliveryTarget,
  DifferenceQuery,
  OutboxEntry,
  OutboxSummary,
  RecordDifference,
  RecordRow,
  TargetState,
} from '../delivery.js';
import * as delivery from './delivery-sql.js';
import type { EngineSession, SqlDriver } from './engine.js';
import { readHistories } from './history-table.js';
import { readCell } from './read-values.js';
import { relationColumns } from './relation-columns.js';
import type { SpecCache, SqlCatalog } from './sql-catalog.js';
import { SqlTransaction, runInTransaction } from './sql-transaction.js';
import { checkLeaseEpoch, clearLeaseOwner, listStates, readState, takeLeaseEpoch } from './state-table.js';
import { TransactionScope } from './transaction-scope.js';

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
        const result = await this.scope.run(() => fn(tx));
        await tx.beforeCommit(new Date());
        return result;
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

  async changeHistories(): Promise<Map<string, ChangeHistory>> {
    return readHistories(this.driver.reader(), this.driver.dialect);
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
    const relation = await relationColumns(conn, dialect, table);
    if (!relation) throw new StoreSchemaError(`table ${JSON.stringify(table)} is unknown to the store`);
    const orderBy = relation.orderBy.map((name) => dialect.orderBy(relation.columns.find((column) => column.name === name) ?? { name, type: 'text' }));
    const rows = await conn.all(`SELECT * FROM ${dialect.relation(relation.name)} ORDER BY ${orderBy.join(', ')}`);
    return rows.map((stored) => {
      const out: Record<string, SqlValue> = {};
      for (const column of relation.columns) out[column.name] = readCell(column.type, stored[column.name]);
      return out;
    });
  }

  async prepareDelivery(target: DeliveryTarget): Promise<DeliveryShape> {
    return this.withSession((session) => delivery.prepareDelivery(session, this.driver.dialect, target));
  }

  async outboxEntries(target: string, limit: number): Promise<OutboxEntry[]> {
    return delivery.outboxEntries(this.driver.reader(), this.driver.dialect, target, limit);
  }

  async differences(target: DeliveryTarget, shape: DeliveryShape, query: DifferenceQuery): Promise<RecordDifference[]> {
    return delivery.differences(this.driver.reader(), this.driver.dialect, target, shape, query);
  }

  async markUncertain(target: DeliveryTarget, _shape: DeliveryShape, rows: readonly RecordRow[], fence?: LeaseFence): Promise<void> {
    await this.fenced(fence, (session) => delivery.markUncertain(session, this.driver.dialect, target, rows));
  }

  async markDelivered(target: DeliveryTarget, _shape: DeliveryShape, change: { readonly written: readonly RecordRow[]; readonly removed: readonly RecordRow[] }, fence?: LeaseFence): Promise<void> {
    await this.fenced(fence, (session) => delivery.markDelivered(session, this.driver.dialect, target, change));
  }

  async removeOutboxEntries(target: string, seqs: readonly number[], fence?: LeaseFence): Promise<void> {
    await this.fenced(fence, (session) => delivery.removeOutboxEntries(session, this.driver.dialect, target, seqs));
  }

  /** A delivery write in one transaction, refused first if made under a superseded lease. */
  private fenced(fence: LeaseFence | undefined, write: (session: EngineSession) => Promise<void>): Promise<void> {
    return this.withSession(async (session) => {
      if (fence !== undefined) await checkLeaseEpoch(session, this.driver.dialect, fence);
      await write(session);
    });
  }

  async outboxSummaries(): Promise<OutboxSummary[]> {
    return delivery.outboxSummaries(this.driver.reader(), this.driver.dialect);
  }

  async targetStates(): Promise<TargetState[]> {
    return delivery.targetStates(this.driver.reader(), this.driver.dialect);
  }

  async writeTargetState(state: TargetState): Promise<void> {
    await this.withSession((session) => delivery.writeTargetState(session, this.driver.dialect, state));
  }

  async restartDelivery(target: Pick<DeliveryTarget, 'id' | 'streamId'>): Promise<void> {
    await this.withSession((session) => delivery.restartDelivery(session, this.driver.dialect, target, new Date()));
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
