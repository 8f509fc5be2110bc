import { parentPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { unpackCells } from './packed-cells.js';
import { LocalSqliteHandle } from './sqlite-handle.js';
import { SIGNAL, type WriterError, type WriterReply, type WriterRequest, type WriterUpsert } from './sqlite-writer-protocol.js';

/**
 * The SQLite writer thread (sqlite-writer-thread.ts): owns the stores' writing connections and
 * runs what the other thread asks, in the order asked. Bulk upserts handed over without waiting run
 * here while the other thread produces the next rows; the first that fails is reported in reply
 * to the next call on its connection, and the ones after it are skipped (the transaction is going
 * to roll back).
 */
const port = parentPort;
if (port === null) throw new Error('sqlite-writer-worker must run in a worker thread');

interface Connection {
  handle: LocalSqliteHandle | undefined;
  readonly signal: Int32Array;
  readonly replies: MessagePort;
  failed: WriterError | undefined;
}
const connections = new Map<number, Connection>();

port.on('message', (request: WriterRequest) => {
  if (request.type === 'open') {
    const connection: Connection = { handle: undefined, signal: new Int32Array(request.signal), replies: request.replies, failed: undefined };
    connections.set(request.conn, connection);
    try {
      connection.handle = LocalSqliteHandle.open(request.path, { timeout: request.timeout });
      reply(connection, { ok: true, value: undefined });
    } catch (error) {
      connections.delete(request.conn);
      reply(connection, { ok: false, error: describe(error) });
    }
    return;
  }
  const connection = connections.get(request.conn);
  if (connection === undefined) return;
  if (request.type === 'upsert' && !request.wait) {
    if (connection.failed === undefined) {
      const outcome = upsert(connection, request);
      if (outcome.error !== undefined) {
        connection.failed = { ...describe(outcome.error), upsert: { id: request.id, row: outcome.row } };
        Atomics.store(connection.signal, SIGNAL.failedUpsert, request.id);
      }
    }
    Atomics.add(connection.signal, SIGNAL.upsertsDone, 1);
    Atomics.notify(connection.signal, SIGNAL.upsertsDone);
    return;
  }
  reply(connection, answer(connection, request));
  if (request.type === 'close') connections.delete(request.conn);
});

function answer(connection: Connection, request: WriterRequest): WriterReply {
  const rollback = request.type === 'exec' && /^\s*ROLLBACK\s*$/i.test(request.sql);
  if (connection.failed !== undefined && !rollback && request.type !== 'close' && request.type !== 'inTransaction') {
    // The caller learns of the failure now, and rolls back; what it asked is not run.
    const error = connection.failed;
    connection.failed = undefined;
    return { ok: false, error };
  }
  if (rollback) connection.failed = undefined;
  try {
    return { ok: true, value: run(connection, request) };
  } catch (error) {
    return { ok: false, error: describe(error) };
  }
}

function run(connection: Connection, request: WriterRequest): unknown {
  const { handle } = connection;
  if (handle === undefined) throw new Error('the SQLite connection is closed');
  switch (request.type) {
    case 'open':
      throw new Error('the SQLite connection is open already');
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
    case 'close':
      connection.handle = undefined;
      handle.close();
      return undefined;
    case 'upsert': {
      const outcome = upsert(connection, request);
      if (outcome.error !== undefined) throw Object.assign(outcome.error, { upsertRow: outcome.row ?? -1 });
      return outcome.written;
    }
  }
}

function upsert(connection: Connection, request: WriterUpsert): ReturnType<LocalSqliteHandle['runUpsert']> {
  if (connection.handle === undefined) return { written: 0, error: new Error('the SQLite connection is closed') };
  return connection.handle.runUpsert(request.statements, unpackCells(request.packed), request.rows);
}

function describe(error: unknown): WriterError {
  if (!(error instanceof Error)) return { message: String(error), name: 'Error', code: undefined };
  const code = (error as { code?: unknown }).code;
  const row = (error as { upsertRow?: unknown }).upsertRow;
  return {
    message: error.message,
    name: error.name,
    code: typeof code === 'string' ? code : undefined,
    ...(typeof row === 'number' ? { upsert: { id: 0, row: row < 0 ? undefined : row } } : {}),
  };
}

function reply(connection: Connection, message: WriterReply): void {
  connection.replies.postMessage(message);
  Atomics.add(connection.signal, SIGNAL.replies, 1);
  Atomics.notify(connection.signal, SIGNAL.replies);
}
