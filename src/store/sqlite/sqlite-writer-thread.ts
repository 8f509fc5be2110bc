import type { Cell } from '../../core/tables.js';
import { packRows } from './packed-cells.js';
import type { BindValue, SqliteHandle, SqliteRow, UpsertFailure, UpsertStatements } from './sqlite-handle.js';
import type { WriterCall, WriterError, WriterReply, WriterUpsert } from './sqlite-writer-protocol.js';
import { WriterGoneError, WriterWorker } from './sqlite-writer-pool.js';

/**
 * Upserts handed over and not yet done, at most. Each holds at most ROWS_PER_HANDOVER rows, packed
 * (a thousand SDMX rows are ~50 KB), so memory stays flat however long the load; when the writer is
 * behind, the producing thread waits here, which is the backpressure. Deep enough that a pause of
 * the producing thread (a collection, a slow chunk from the network) does not leave the writer
 * idle: 8 left it idle for a fifth of a full load.
 */
const MAX_UPSERTS_IN_FLIGHT = 64;
/** Rows per handed-over upsert: a large batch is cut, so the writer starts on it early and memory stays bounded. */
const ROWS_PER_HANDOVER = 2048;

/**
 * A store's writing connection on a thread of its own (sqlite-writer-worker.ts), opened there when
 * the store opens (SqliteDriver lets it take over once it has started) and closed when the store
 * closes, the thread then kept for the next store (sqlite-writer-pool.ts). Calls are synchronous,
 * as better-sqlite3's are: the request is posted and this thread waits for the reply
 * (Atomics.wait, then receiveMessageOnPort), so the shared SQL code and the transaction semantics
 * are those of a connection in this thread. Bulk upserts whose count is known without asking are
 * handed over without waiting, so SQLite inserts one batch into its B-tree while this thread reads
 * and maps the next: a full load runs on both cores. Their failure is thrown by the next call (at
 * the latest the COMMIT, which then rolls back), as the error the refused row deserves.
 */
export class SqliteWriterThread implements SqliteHandle {
  private upsertsSent: number;
  /** The rows' failure message and first row of each upsert handed over and not known to be done, by id. */
  private readonly pending = new Map<number, { readonly failure: UpsertFailure; readonly first: number }>();
  private closed = false;
  /** The answer to the opening of the file, once read. */
  private opening: WriterReply | undefined;

  private constructor(private readonly worker: WriterWorker) {
    // Upserts are numbered from what the thread has done for the stores before (all of it finished:
    // a store gives the thread back only after its last call was answered).
    this.upsertsSent = worker.upsertsDone();
  }

  /** Opens the file on a writer thread (one kept idle, or a new one); does not wait for it (see `started`, `awaitOpened`). */
  static start(path: string, options: { readonly timeout: number }): SqliteWriterThread {
    const worker = WriterWorker.take();
    worker.post({ type: 'open', path, timeout: options.timeout });
    return new SqliteWriterThread(worker);
  }

  /** Opens the file on a writer thread and waits until it has; throws what opening it threw. */
  static open(path: string, options: { readonly timeout: number }): SqliteWriterThread {
    const thread = SqliteWriterThread.start(path, options);
    thread.awaitOpened();
    return thread;
  }

  /** Resolves with the exit code of the thread once it has ended (it outlives the connection, kept for the next store). */
  get exited(): Promise<number> {
    return this.worker.exited;
  }

  /** Whether the thread has started and answered its opening of the file (awaitOpened then returns at once); never waits. */
  started(): boolean {
    this.opening ??= this.worker.poll();
    return this.opening !== undefined;
  }

  /** Waits until the thread has opened the file; throws what opening it threw (the thread is given back). */
  awaitOpened(): void {
    try {
      this.opening ??= this.nextReply();
      this.settle(this.opening);
    } catch (error) {
      this.abandon();
      throw error;
    }
  }

  /**
   * Gives the thread back without waiting for it, whatever it is doing: for a connection the store
   * never used (no upsert was handed over). Its connection is closed there before any other store's.
   */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.post({ type: 'close' });
    this.worker.giveBack(this.opening === undefined ? 2 : 1);
  }

  exec(sql: string): void {
    this.call({ type: 'exec', sql });
  }

  run(sql: string, params: readonly BindValue[] = []): number {
    return this.call({ type: 'run', sql, params }) as number;
  }

  get(sql: string, params: readonly BindValue[] = []): SqliteRow | undefined {
    return this.call({ type: 'get', sql, params }) as SqliteRow | undefined;
  }

  all(sql: string, params: readonly BindValue[] = [], safeIntegers = false): SqliteRow[] {
    return this.call({ type: 'all', sql, params, safeIntegers }) as SqliteRow[];
  }

  pragma(source: string, options?: { readonly simple?: boolean }): unknown {
    return this.call({ type: 'pragma', source, simple: options?.simple ?? false });
  }

  get inTransaction(): boolean {
    return this.call({ type: 'inTransaction' }) as boolean;
  }

  upsert(s: UpsertStatements, rows: readonly (readonly Cell[])[], positions: readonly number[], counted: boolean, failure: UpsertFailure): number {
    const { perStatement } = s;
    if (!counted) {
      try {
        return this.call(this.upsertRequest(s, rows, positions, 0, rows.length, 0)) as number;
      } catch (error) {
        const refused = (error as { refused?: { row: number; cells: readonly BindValue[] } }).refused;
        throw refused === undefined ? error : failure(refused.row, refused.cells, error as Error);
      }
    }
    const step = Math.max(perStatement, Math.floor(ROWS_PER_HANDOVER / perStatement) * perStatement);
    for (let first = 0; first < rows.length; first += step) {
      this.waitForRoom();
      this.upsertsSent += 1;
      const id = this.upsertsSent;
      this.pending.set(id, { failure, first });
      this.post(this.upsertRequest(s, rows, positions, first, Math.min(rows.length, first + step), id));
    }
    return rows.length;
  }

  /** Closes the connection, after what was handed over, and gives the thread back for the next store. */
  close(): void {
    if (this.closed) return;
    try {
      this.call({ type: 'close' });
    } finally {
      if (!this.closed) this.worker.giveBack(0);
      this.closed = true;
    }
  }

  private upsertRequest(s: UpsertStatements, rows: readonly (readonly Cell[])[], positions: readonly number[], from: number, to: number, id: number): WriterUpsert {
    const count = to - from;
    const rest = count % s.perStatement;
    return {
      type: 'upsert',
      id,
      many: count >= s.perStatement ? s.many : undefined,
      rest: rest > 0 ? s.rest(rest) : undefined,
      one: s.one,
      perStatement: s.perStatement,
      width: s.width,
      rows: count,
      packed: packRows(rows, positions, from, to),
    };
  }

  private call(request: WriterCall | WriterUpsert): unknown {
    this.post(request);
    return this.awaitReply();
  }

  private awaitReply(): unknown {
    return this.settle(this.nextReply());
  }

  private nextReply(): WriterReply {
    return this.whileAlive(() => this.worker.nextReply());
  }

  /** Runs a wait for the thread; once it is found gone, this connection is closed for every call after. */
  private whileAlive<T>(wait: () => T): T {
    try {
      return wait();
    } catch (error) {
      if (error instanceof WriterGoneError) this.closed = true;
      throw error;
    }
  }

  private post(request: WriterCall | WriterUpsert): void {
    // A thread that died is found by the wait that follows (within a liveness check).
    if (this.closed) throw new Error('the SQLite connection is closed');
    this.worker.post(request, request.type === 'upsert' ? [request.packed.lengths.buffer as ArrayBuffer] : []);
  }

  private settle(reply: WriterReply): unknown {
    // Every upsert handed over before this reply is done: none failed, or this reply is its failure.
    const error = reply.ok ? undefined : this.errorOf(reply.error);
    this.pending.clear();
    if (error !== undefined) throw error;
    return (reply as { readonly value: unknown }).value;
  }

  private errorOf(described: WriterError): Error {
    const error = Object.assign(new Error(described.message), described.code === undefined ? {} : { code: described.code });
    error.name = described.name;
    const refused = described.upsert?.refused;
    if (described.upsert === undefined || refused === undefined) return error;
    if (described.upsert.id === 0) return Object.assign(error, { refused });
    // A handed-over upsert refused a row: name it as a waited-for one would have.
    const handedOver = this.pending.get(described.upsert.id);
    return handedOver === undefined ? error : handedOver.failure(handedOver.first + refused.row, refused.cells, error);
  }

  /** Waits until fewer than MAX_UPSERTS_IN_FLIGHT handed-over upserts are pending; forgets the finished ones. */
  private waitForRoom(): void {
    for (;;) {
      const done = this.worker.upsertsDone();
      // A failed upsert keeps its entry: the reply that reports it needs the rows' failure message.
      const failed = this.worker.failedUpsert();
      for (const id of this.pending.keys()) {
        if (id > done) break;
        if (id !== failed) this.pending.delete(id);
      }
      if (this.upsertsSent - done < MAX_UPSERTS_IN_FLIGHT) return;
      this.whileAlive(() => this.worker.awaitUpsertsPast(done));
    }
  }
}
