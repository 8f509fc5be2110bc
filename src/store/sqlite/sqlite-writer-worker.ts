import { readlinkSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { CellReader } from './packed-cells.js';
import { LocalSqliteHandle, type BindValue } from './sqlite-handle.js';
import { SIGNAL, type WriterError, type WriterReply, type WriterRequest, type WriterStart, type WriterUpsert } from './sqlite-writer-protocol.js';

/**
 * The SQLite writer thread (sqlite-writer-thread.ts): owns one store's writing connection at a
 * time, from its `open` to its `close`, and runs what the store's thread asks, in the order asked.
 * Upserts handed over run here while that thread reads and maps the next rows; the first that
 * fails is the reply to the next call, and the ones handed over after it are skipped (the
 * transaction is going to roll back).
 */
const port = parentPort;
if (port === null) throw new Error('sqlite-writer-worker must run in a worker thread');
const start = workerData as WriterStart & { readonly replies: MessagePort };
const signal = new Int32Array(start.signal);
const { replies } = start;

let handle: LocalSqliteHandle | undefined;
let failed: WriterError | undefined;
/** One parameter array per statement width, filled again for each statement: binding copies it. */
const parameterArrays = new Map<number, BindValue[]>();

Atomics.store(signal, SIGNAL.osThread, osThreadId());

port.on('message', (request: WriterRequest) => {
  if (request.type === 'upsert' && request.id !== 0) {
    if (failed === undefined) {
      try {
        upsert(request);
      } catch (error) {
        const described = describe(error);
        failed = described.upsert === undefined ? { ...described, upsert: { id: request.id, refused: undefined } } : described;
        Atomics.store(signal, SIGNAL.failedUpsert, request.id);
      }
    }
    Atomics.add(signal, SIGNAL.upsertsDone, 1);
    Atomics.notify(signal, SIGNAL.upsertsDone);
    return;
  }
  reply(answer(request));
});

function answer(request: WriterRequest): WriterReply {
  const rollback = request.type === 'exec' && /^\s*ROLLBACK\s*$/i.test(request.sql);
  if (request.type === 'open' || request.type === 'close') {
    // A store's failure dies with its use of the thread.
    forgetFailure();
  } else if (failed !== undefined && !rollback && request.type !== 'inTransaction') {
    // The caller learns of the failure now, and rolls back; what it asked is not run.
    const error = failed;
    forgetFailure();
    return { ok: false, error };
  }
  if (rollback) forgetFailure();
  try {
    return { ok: true, value: run(request) };
  } catch (error) {
    return { ok: false, error: describe(error) };
  }
}

function forgetFailure(): void {
  failed = undefined;
  Atomics.store(signal, SIGNAL.failedUpsert, 0);
}

function run(request: WriterRequest): unknown {
  if (request.type === 'open' || request.type === 'close') {
    // The connection is forgotten before it closes: one whose close threw is not used again.
    const closing = handle;
    handle = undefined;
    closing?.close();
    if (request.type === 'open') handle = LocalSqliteHandle.open(request.path, { timeout: request.timeout });
    return undefined;
  }
  if (handle === undefined) throw new Error('the SQLite connection is closed');
  switch (request.type) {
    case 'exec':
      handle.exec(request.sql);
      return undefined;
    case 'run':
      return handle.run(request.sql, request.params);
    case 'get':
      return handle.get(request.sql, request.params);
    case 'all':
      return handle.all(request.sql, request.params, request.safeIntegers);
    case 'pragma':
      return handle.pragma(request.source, { simple: request.simple });
    case 'inTransaction':
      return handle.inTransaction;
    case 'upsert':
      return upsert(request);
  }
}

/**
 * The bulk upsert: statements of `perStatement` rows, then one for the rest. A statement that fails
 * left no trace; its rows are replayed one by one to name the row to blame.
 */
function upsert(request: WriterUpsert): number {
  if (handle === undefined) throw new Error('the SQLite connection is closed');
  const { perStatement, width, rows } = request;
  const cells = new CellReader(request.packed);
  let written = 0;
  for (let from = 0; from < rows; from += perStatement) {
    const count = Math.min(perStatement, rows - from);
    const sql = count === perStatement ? request.many : request.rest;
    if (sql === undefined) throw new Error('bulk upsert without the statement for its rows');
    const statement = handle.statement(sql);
    const parameters = parametersFor(count * width);
    cells.fill(parameters, count);
    try {
      // Spread, not the array: better-sqlite3 then reads each value as an argument rather than
      // through a property lookup on the array, a tenth of this thread's time in a full load.
      written += statement.run(...parameters).changes;
    } catch (error) {
      blame(handle.statement(request.one), parameters, width, from, count, request.id);
      throw error;
    }
  }
  return written;
}

/** Runs the rows of a failed statement one by one, to throw, naming the row, at the first that fails. */
function blame(one: Database.Statement, parameters: readonly BindValue[], width: number, from: number, count: number, id: number): void {
  for (let r = 0; r < count; r++) {
    const cells = parameters.slice(r * width, (r + 1) * width);
    try {
      one.run(cells);
    } catch (error) {
      throw Object.assign(error as Error, { upsert: { id, refused: { row: from + r, cells } } });
    }
  }
}

function parametersFor(length: number): BindValue[] {
  let parameters = parameterArrays.get(length);
  if (parameters === undefined) {
    parameters = new Array<BindValue>(length);
    parameterArrays.set(length, parameters);
  }
  return parameters;
}

function describe(error: unknown): WriterError {
  if (!(error instanceof Error)) return { message: String(error), name: 'Error', code: undefined };
  const code = (error as { code?: unknown }).code;
  const upsert = (error as { upsert?: WriterError['upsert'] }).upsert;
  return { message: error.message, name: error.name, code: typeof code === 'string' ? code : undefined, ...(upsert === undefined ? {} : { upsert }) };
}

/** This thread's id in the operating system, for the other thread to see it gone while it waits (Linux); -1 elsewhere. */
function osThreadId(): number {
  try {
    const id = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(id) && id > 0 ? id : -1;
  } catch {
    return -1;
  }
}

function reply(message: WriterReply): void {
  replies.postMessage(message);
  Atomics.add(signal, SIGNAL.replies, 1);
  Atomics.notify(signal, SIGNAL.replies);
}
