import { existsSync } from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { workerModuleUrl } from '../../core/worker-module.js';
import { SIGNAL, SIGNAL_SLOTS, type WriterReply, type WriterRequest, type WriterStart } from './sqlite-writer-protocol.js';

/** How often a wait checks that the writer thread is still alive. */
const LIVENESS_CHECK_MS = 1000;
/** A thread that has not said who it is by then never started (its module failed to load). */
const START_LIMIT_MS = 60_000;
/**
 * Threads kept, idle, for the next store to open: starting one costs ~0.1 s of CPU (far more when
 * its modules are compiled on the fly, as in tests), opening a file on one already running costs
 * nothing to speak of. Two cover a process that opens a store while another is closing.
 */
const MAX_IDLE = 2;

const idle: WriterWorker[] = [];

/**
 * A running writer thread (sqlite-writer-worker.ts), which holds one store's writing connection at
 * a time: taken from the idle ones when a store opens, given back when it closes, so that a process
 * opening store after store (a CLI command, a test run) starts a thread once.
 */
export class WriterWorker {
  private readonly signal: Int32Array;
  /** Replies to requests of a store that no longer waits for them: the next ones read are dropped. */
  private owed = 0;
  private readonly startedAt = performance.now();
  /** Resolves with the thread's exit code once it has ended. */
  readonly exited: Promise<number>;

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

  /** An idle thread that is still alive, or a new one. */
  static take(): WriterWorker {
    for (let worker = idle.pop(); worker !== undefined; worker = idle.pop()) {
      if (!worker.gone()) return worker;
      worker.terminate();
    }
    const shared = new SharedArrayBuffer(SIGNAL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const channel = new MessageChannel();
    const start: WriterStart & { replies: MessagePort } = { signal: shared, replies: channel.port2 };
    const worker = new Worker(workerModuleUrl(import.meta.url, 'sqlite-writer-worker'), { workerData: start, transferList: [channel.port2] });
    return new WriterWorker(worker, channel.port1, shared);
  }

  /**
   * Keeps the thread for the next store, its connection closed; `owed`: replies still to come to
   * requests nobody waits for. Beyond MAX_IDLE it is ended.
   */
  giveBack(owed: number): void {
    this.owed += owed;
    if (idle.length < MAX_IDLE && !this.gone()) idle.push(this);
    else this.terminate();
  }

  terminate(): void {
    this.replies.close();
    void this.worker.terminate();
  }

  post(request: WriterRequest, transfer: readonly ArrayBuffer[] = []): void {
    this.worker.postMessage(request, transfer);
  }

  /** The next reply if one has come; never waits. */
  poll(): WriterReply | undefined {
    for (;;) {
      const message = receiveMessageOnPort(this.replies) as { message: WriterReply } | undefined;
      if (message === undefined) return undefined;
      if (this.owed === 0) return message.message;
      this.owed -= 1;
    }
  }

  /** Waits for the next reply; throws if the thread died meanwhile. */
  nextReply(): WriterReply {
    for (;;) {
      const seen = Atomics.load(this.signal, SIGNAL.replies);
      const reply = this.poll();
      if (reply !== undefined) return reply;
      if (Atomics.wait(this.signal, SIGNAL.replies, seen, LIVENESS_CHECK_MS) === 'timed-out') this.assertAlive();
    }
  }

  /** Handed-over upserts done so far, this thread's whole life (each store counts from where it found it). */
  upsertsDone(): number {
    return Atomics.load(this.signal, SIGNAL.upsertsDone);
  }

  /** The id of the handed-over upsert that failed and is not reported yet (0: none). */
  failedUpsert(): number {
    return Atomics.load(this.signal, SIGNAL.failedUpsert);
  }

  /** Waits until upsertsDone() has moved past `done` (or a check interval passed); throws if the thread died. */
  awaitUpsertsPast(done: number): void {
    if (Atomics.wait(this.signal, SIGNAL.upsertsDone, done, LIVENESS_CHECK_MS) === 'timed-out') this.assertAlive();
  }

  private assertAlive(): void {
    if (this.gone()) throw new WriterGoneError();
  }

  /**
   * Whether the thread has ended. The calling thread may be blocked waiting for it, so its 'exit'
   * event cannot be delivered: on Linux the operating system's view of the thread is read
   * instead; elsewhere only what the event loop has seen.
   */
  gone(): boolean {
    const osThread = Atomics.load(this.signal, SIGNAL.osThread);
    if (osThread > 0) return !existsSync(`/proc/self/task/${osThread}`);
    if (osThread === 0 && performance.now() - this.startedAt > START_LIMIT_MS) return true;
    return this.worker.threadId === -1;
  }

  /** Ends the thread as running out of memory would (tests). */
  kill(): Promise<number> {
    return this.worker.terminate();
  }
}

export class WriterGoneError extends Error {
  constructor() {
    super('the SQLite writer thread has stopped (out of memory?); its open transaction is lost');
  }
}
