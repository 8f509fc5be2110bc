import { existsSync } from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Cell } from '../../core/tables.js';
import { workerModuleUrl } from '../../core/worker-module.js';
import { packRows } from './packed-cells.js';
import type { BindValue, SqliteHandle, SqliteRow, UpsertFailure, UpsertStatements } from './sqlite-handle.js';
import { SIGNAL, SIGNAL_SLOTS, type WriterCall, type WriterError, type WriterReply, type WriterStart, type WriterUpsert } from './sqlite-writer-protocol.js';

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

/** How often a wait checks that the writer thread is still alive. */
const LIVENESS_CHECK_MS = 1000;
/** A thread that has not said who it is by then never started (its module failed to load). */
const START_LIMIT_MS = 60_000;

/**
 * A store's writing connection on a thread of its own (sqlite-writer-worker.ts), started when the
 * store opens (SqliteDriver lets it take over once it has started) and ended when it closes. Calls
 * are synchronous, as better-sqlite3's are: the request is posted and this thread waits for the
 * reply (Atomics.wait, then receiveMessageOnPort), so the shared SQL code and the transaction
 * semantics are those of a connection in this thread. Bulk
 * upserts whose count is known without asking are handed over without waiting, so SQLite inserts
 * one batch into its B-tree while this thread reads and maps the next: a full load runs on both
 * cores. Their failure is thrown by the next call (at the latest the COMMIT, which then rolls
 * back), as the error the refused row deserves.
 */
export class SqliteWriterThread implements SqliteHandle {
  private readonly signal: Int32Array;
  private upsertsSent = 0;
  /** The rows' failure message and first row of each upsert handed over and not known to be done, by id. */
  private readonly pending = new Map<number, { readonly failure: UpsertFailure; readonly first: number }>();
  private closed = false;
  /** The answer to the opening of the file, once read. */
  private opening: WriterReply | undefined;
  /** Resolves with the thread's exit code once it has ended. */
  readonly exited: Promise<number>;
  private readonly startedAt = performance.now();

  private constructor(
    private readonly worker: Worker,
    private readonly replies: MessagePort,
    shared: SharedArrayBuffer,
  ) {
    this.signal = new Int32Array(shared);
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
    // Its failures are seen by the caller waiting for a reply (the thread is found gone).
    worker.on('error', () => {});
    // The thread works only when called; it must not keep a finished process alive.
    worker.unref();
    replies.unref();
  }

  /** Starts the thread, which opens the database file; does not wait for it (see `started`, `awaitOpened`). */
  static start(path: string, options: { readonly timeout: number }): SqliteWriterThread {
    const shared = new SharedArrayBuffer(SIGNAL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const channel = new MessageChannel();
    const start: WriterStart & { replies: MessagePort } = { path, timeout: options.timeout, signal: shared, replies: channel.port2 };
    const worker = new Worker(workerModuleUrl(import.meta.url, 'sqlite-writer-worker'), { workerData: start, transferList: [channel.port2] });
    return new SqliteWriterThread(worker, channel.port1, shared);
  }

  /** Starts the thread and waits until it has opened the file; throws what opening it threw. */
  static open(path: string, options: { readonly timeout: number }): SqliteWriterThread {
    const thread = SqliteWriterThread.start(path, options);
    thread.awaitOpened();
    return thread;
  }

  /** Whether the thread has started and answered its opening of the file (awaitOpened then returns at once); never waits. */
  started(): boolean {
    this.opening ??= (receiveMessageOnPort(this.replies) as { message: WriterReply } | undefined)?.message;
    return this.opening !== undefined;
  }

  /** Waits until the thread has opened the file; throws what opening it threw, the thread then ended. */
  awaitOpened(): void {
    try {
      this.opening ??= this.nextReply();
      this.settle(this.opening);
    } catch (error) {
      this.abandon();
      throw error;
    }
  }

  /** Ends the thread without waiting for it, whatever it is doing: for a thread the store never used. */
  abandon(): void {
    this.closed = true;
    this.replies.close();
    void this.worker.terminate();
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

  /** Closes the connection, after what was handed over, and ends the thread. */
  close(): void {
    if (this.closed) return;
    try {
      this.call({ type: 'close' });
    } finally {
      this.closed = true;
      this.replies.close();
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
    for (;;) {
      const seen = Atomics.load(this.signal, SIGNAL.replies);
      const message = receiveMessageOnPort(this.replies) as { message: WriterReply } | undefined;
      if (message !== undefined) return message.message;
      if (Atomics.wait(this.signal, SIGNAL.replies, seen, LIVENESS_CHECK_MS) === 'timed-out') this.assertAlive();
    }
  }

  private post(request: WriterCall | WriterUpsert): void {
    // A thread that died is found by the wait that follows (within LIVENESS_CHECK_MS).
    if (this.closed) throw new Error('the SQLite connection is closed');
    const transfer = request.type === 'upsert' ? [request.packed.lengths.buffer as ArrayBuffer] : [];
    this.worker.postMessage(request, transfer);
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
      const done = Atomics.load(this.signal, SIGNAL.upsertsDone);
      // A failed upsert keeps its entry: the reply that reports it needs the rows' failure message.
      const failed = Atomics.load(this.signal, SIGNAL.failedUpsert);
      for (const id of this.pending.keys()) {
        if (id > done) break;
        if (id !== failed) this.pending.delete(id);
      }
      if (this.upsertsSent - done < MAX_UPSERTS_IN_FLIGHT) return;
      if (Atomics.wait(this.signal, SIGNAL.upsertsDone, done, LIVENESS_CHECK_MS) === 'timed-out') this.assertAlive();
    }
  }

  private assertAlive(): void {
    if (this.gone()) {
      this.closed = true;
      throw new Error('the SQLite writer thread has stopped (out of memory?); its open transaction is lost');
    }
  }

  /**
   * Whether the writer thread has ended. This thread may be blocked waiting for it, so its 'exit'
   * event cannot be delivered: on Linux the operating system's view of the thread is read
   * instead; elsewhere only what the event loop has seen.
   */
  private gone(): boolean {
    const osThread = Atomics.load(this.signal, SIGNAL.osThread);
    if (osThread > 0) return !existsSync(`/proc/self/task/${osThread}`);
    if (osThread === 0 && performance.now() - this.startedAt > START_LIMIT_MS) return true;
    return this.worker.threadId === -1;
  }
}
