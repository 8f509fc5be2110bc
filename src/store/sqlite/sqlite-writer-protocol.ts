import type { PackedCells } from './packed-cells.js';
import type { BindValue } from './sqlite-handle.js';

/** What crosses between the SQLite writer thread and the thread that uses it (sqlite-writer-thread.ts, sqlite-writer-worker.ts). */

/** Int32 slots of the shared signal buffer. */
export const SIGNAL = {
  /** Bumped by the writer after each reply to a call. */
  replies: 0,
  /** Bumped by the writer after each handed-over upsert (done, failed or skipped). */
  upsertsDone: 1,
  /** The id of the handed-over upsert that failed (0: none), set before upsertsDone counts it, cleared when reported. */
  failedUpsert: 2,
  /** Set by the writer once running: its thread id in the operating system (Linux: /proc/thread-self), or -1 where there is none to give. */
  osThread: 3,
} as const;
export const SIGNAL_SLOTS = 4;

/** What the writer thread is started with (workerData); its replies port is transferred along. */
export interface WriterStart {
  readonly signal: SharedArrayBuffer;
}

/** `open` and `close` begin and end one store's use of the thread; a thread serves one store at a time. */
export type WriterCall =
  | { readonly type: 'open'; readonly path: string; readonly timeout: number }
  | { readonly type: 'exec'; readonly sql: string }
  | { readonly type: 'run' | 'get'; readonly sql: string; readonly params: readonly BindValue[] }
  | { readonly type: 'all'; readonly sql: string; readonly params: readonly BindValue[]; readonly safeIntegers: boolean }
  | { readonly type: 'pragma'; readonly source: string; readonly simple: boolean }
  | { readonly type: 'inTransaction' }
  | { readonly type: 'close' };

/**
 * Rows of a bulk upsert: statements of `perStatement` rows (`many`), `rest` for what is left,
 * `one` to find the row a failed statement refused. `id` 0: a call (the count is the reply);
 * otherwise handed over, and a failure is the reply to the next call.
 */
export interface WriterUpsert {
  readonly type: 'upsert';
  readonly id: number;
  readonly many: string | undefined;
  readonly rest: string | undefined;
  readonly one: string;
  readonly perStatement: number;
  readonly width: number;
  readonly rows: number;
  readonly packed: PackedCells;
}

export type WriterRequest = WriterCall | WriterUpsert;

/** An error as it crosses threads: better-sqlite3's SqliteError keeps its name and code. */
export interface WriterError {
  readonly message: string;
  readonly name: string;
  readonly code: string | undefined;
  /** A bulk upsert's failure: which upsert (0: the one called), and the row it refused (index, bound cells) when one can be named. */
  readonly upsert?: { readonly id: number; readonly refused: { readonly row: number; readonly cells: readonly BindValue[] } | undefined };
}

export type WriterReply = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: WriterError };
