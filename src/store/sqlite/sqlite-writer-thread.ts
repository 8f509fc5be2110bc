import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { workerModuleUrl } from '../../core/worker-module.js';
import type { Cell } from '../../core/tables.js';
import { packRows } from './packed-cells.js';
import type { BindValue, SqliteHandle, SqliteRow, UpsertFailure, UpsertStatements } from './sqlite-handle.js';
import { SIGNAL, SIGNAL_SLOTS, type WriterCall, type WriterError, type WriterReply, type WriterUpsert } from './sqlite-writer-protocol.js';

/**
 * Bulk upserts handed over and not yet done, at most. Each holds one batch of rows (a thousand
 * SDMX rows are ~100 KB packed), so memory stays flat however long the load; when the writer is
 * behind, the producing thread waits here, which is the backpressure.
 */
const MAX_UPSERTS_IN_FLIGHT = 8;

/** How often a wait checks that the writer thread is still alive. */
const LIVENESS_CHECK_MS = 1000;

/**
 * The store's writing connection on a thread of its own (sqlite-writer-worker.ts). Calls are
 * synchronous, as better-sqlite3's are: the request is posted and this thread waits for the reply
 * (Atomics.wait, then receiveMessageOnPort), so the shared SQL code and the transaction semantics
 * are exactly those of a connection in this thread. Bulk upserts whose count is known without
 * asking (every row is written: an upsert that always updates) are handed over without waiting,
 * so SQLite inserts one batch into its B-tree while this thread reads and maps the next: a full
 * load runs on both cores. Their failure is thrown by the next call (at the latest the COMMIT,
 * which then rolls back), as the error the failed row deserves.
 */
export class SqliteWriterThread implements SqliteHandle {
  private readonly worker: Worker;
  private readonly conn: number;
  private readonly replies: MessagePort;
  private readonly signal: Int32Array;
  private upsertsSent = 0;
  /** Failure messages of the upserts handed over and not known to be done, by id. */
  private readonly failures = new Map<number, UpsertFailure>();
  private oldestUnpruned = 1;
  private closed = false;

  private constructor(private readonly shared: SharedArrayBuffer) {
    this.signal = new Int32Array(shared);
    const channel = new MessageChannel();
    this.replies = channel.port1;
    this.replies.unref();
    this.worker = writerWorker();
    nextConnection += 1;
    this.conn = nextConnection;
    this.transferOnOpen = channel.port2;
  }

  private readonly transferOnOpen: MessagePort;

  /** Opens the database file on the writer thread (started on first use); throws what opening it threw. */
  static open(path: string, options: { readonly timeout: number }): SqliteWriterThread {
    const thread = new SqliteWriterThread(new SharedArrayBuffer(SIGNAL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
    const replies = thread.transferOnOpen;
    thread.call({ type: 'open', path, timeout: options.timeout, signal: thread.shared, replies }, [replies]);
    return thread;
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

  upsert(statements: UpsertStatements, rows: readonly (readonly Cell[])[], positions: readonly number[], counted: boolean, failure: UpsertFailure): number | undefined {
    const packed = packRows(rows, positions);
    if (!counted) {
      try {
        return this.call({ type: 'upsert', id: 0, statements, packed, rows: rows.length, wait: true }, [packed.lengths.buffer as ArrayBuffer]) as number;
      } catch (error) {
        const row = (error as { upsertRow?: number }).upsertRow;
        throw row === undefined ? error : failure(row, error as Error);
      }
    }
    this.waitForRoom();
    this.upsertsSent += 1;
    const id = this.upsertsSent;
    this.failures.set(id, failure);
    this.post({ type: 'upsert', id, statements, packed, rows: rows.length, wait: false }, [packed.lengths.buffer as ArrayBuffer]);
    return undefined;
  }

  /** Closes the connection, after what was handed over. */
  close(): void {
    if (this.closed) return;
    this.call({ type: 'close' });
    this.closed = true;
    this.replies.close();
  }

  private call(request: WriterCall | WriterUpsert, transfer: readonly (ArrayBuffer | MessagePort)[] = []): unknown {
    this.post(request, transfer);
    for (;;) {
      const seen = Atomics.load(this.signal, SIGNAL.replies);
      const message = receiveMessageOnPort(this.replies) as { message: WriterReply } | undefined;
      if (message !== undefined) return this.settle(message.message);
      if (Atomics.wait(this.signal, SIGNAL.replies, seen, LIVENESS_CHECK_MS) === 'timed-out') this.assertAlive();
    }
  }

  private post(request: WriterCall | WriterUpsert, transfer: readonly (ArrayBuffer | MessagePort)[]): void {
    if (this.closed) throw new Error('the SQLite connection is closed');
    this.assertAlive();
    this.worker.postMessage({ ...request, conn: this.conn }, transfer);
  }

  private settle(reply: WriterReply): unknown {
    if (reply.ok) {
      // Every upsert handed over before this call is done, and none failed.
      this.failures.clear();
      this.oldestUnpruned = this.upsertsSent + 1;
      return reply.value;
    }
    throw this.errorOf(reply.error);
  }

  private errorOf(described: WriterError): Error {
    const error = Object.assign(new Error(described.message), described.code === undefined ? {} : { code: described.code });
    error.name = described.name;
    const upsert = described.upsert;
    if (upsert === undefined) return error;
    if (upsert.id === 0) return Object.assign(error, { upsertRow: upsert.row });
    // A handed-over upsert failed: name its row as a waited-for one would have.
    const failure = this.failures.get(upsert.id);
    this.failures.clear();
    this.oldestUnpruned = this.upsertsSent + 1;
    return failure !== undefined && upsert.row !== undefined ? failure(upsert.row, error) : error;
  }

  /** Waits until fewer than MAX_UPSERTS_IN_FLIGHT handed-over upserts are pending; forgets the finished ones' failure messages. */
  private waitForRoom(): void {
    for (;;) {
      const done = Atomics.load(this.signal, SIGNAL.upsertsDone);
      this.prune(done);
      if (this.upsertsSent - done < MAX_UPSERTS_IN_FLIGHT) return;
      if (Atomics.wait(this.signal, SIGNAL.upsertsDone, done, LIVENESS_CHECK_MS) === 'timed-out') this.assertAlive();
    }
  }

  private prune(done: number): void {
    // The failed one (set before it is counted done) keeps its message for the next call's error.
    const failed = Atomics.load(this.signal, SIGNAL.failedUpsert);
    for (; this.oldestUnpruned <= done; this.oldestUnpruned++) {
      if (this.oldestUnpruned !== failed) this.failures.delete(this.oldestUnpruned);
    }
  }

  private assertAlive(): void {
    // threadId turns -1 once the thread is gone, before its 'exit' event can be delivered here.
    if (this.worker.threadId === -1) {
      if (worker === this.worker) worker = undefined;
      throw new Error('the SQLite writer thread has stopped; the open transaction is lost');
    }
  }
}

let worker: Worker | undefined;
let nextConnection = 0;

/**
 * One writer thread for every store of the process, started on first use: starting a thread costs
 * more than a store's open (about a second under the TypeScript loader of the tests), and the
 * process writes one transaction at a time per store anyway.
 */
function writerWorker(): Worker {
  if (worker !== undefined) return worker;
  const started = new Worker(workerModuleUrl(import.meta.url, 'sqlite-writer-worker'));
  // The thread works only when called; it must not keep a finished process alive.
  started.unref();
  // Its failures are seen by the caller waiting for a reply (the thread is found gone).
  started.on('error', () => {});
  worker = started;
  return started;
}
