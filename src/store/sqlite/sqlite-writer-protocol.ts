import type { MessagePort } from 'node:worker_threads';
import type { PackedCells } from './packed-cells.js';
import type { BindValue, UpsertStatements } from './sqlite-handle.js';

/**
 * What crosses between the SQLite writer thread and the thread that uses it
 * (sqlite-writer-thread.ts, sqlite-writer-worker.ts).
 */

/** Int32 slots of the shared signal buffer. */
export const SIGNAL = {
  /** Bumped by the worker after each reply to a call. */
  replies: 0,
  /** Bumped by the worker after each bulk upsert handed over without waiting (done, failed or skipped). */
  upsertsDone: 1,
  /** The id of the handed-over upsert that failed (0: none), set before upsertsDone counts it. */
  failedUpsert: 2,
} as const;
export const SIGNAL_SLOTS = 3;

export type WriterCall =
  /** Opens connection `conn`: its replies go to `replies`, its counters live in `signal`. */
  | { readonly type: 'open'; readonly path: string; readonly timeout: number; readonly signal: SharedArrayBuffer; readonly replies: MessagePort }
  | { readonly type: 'exec'; readonly sql: string }
  | { readonly type: 'run' | 'get'; readonly sql: string; readonly params: readonly BindValue[] }
  | { readonly type: 'all'; readonly sql: string; readonly params: readonly BindValue[]; readonly safeIntegers: boolean }
  | { readonly type: 'pragma'; readonly source: string; readonly simple: boolean }
  | { readonly type: 'inTransaction' }
  | { readonly type: 'close' };

/** A bulk upsert; `wait`: the caller waits for its count (a call), else it is handed over. */
export interface WriterUpsert {
  readonly type: 'upsert';
  readonly id: number;
  readonly statements: UpsertStatements;
  readonly packed: PackedCells;
  readonly rows: number;
  readonly wait: boolean;
}

/** Every request names the connection it is for: one thread writes for every store of the process. */
export type WriterRequest = (WriterCall | WriterUpsert) & { readonly conn: number };

/** An error as it crosses threads: better-sqlite3's SqliteError keeps its name and code. */
export interface WriterError {
  readonly message: string;
  readonly name: string;
  readonly code: string | undefined;
  /** A bulk upsert's failure: which upsert, and the row to blame when there is one. */
  readonly upsert?: { readonly id: number; readonly row: number | undefined };
}

export type WriterReply = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: WriterError };
