import net from 'node:net';
import DebugModule from 'tedious/lib/debug.js';
import IncomingMessageStreamModule from 'tedious/lib/incoming-message-stream.js';
import MessageModule from 'tedious/lib/message.js';
import { readMetadata, type Metadata } from 'tedious/lib/metadata-parser.js';
import OutgoingMessageStreamModule from 'tedious/lib/outgoing-message-stream.js';
import PreloginPayloadModule from 'tedious/lib/prelogin-payload.js';
import StreamParserModule from 'tedious/lib/token/stream-parser.js';
import { ColMetadataToken, RowToken } from 'tedious/lib/token/token.js';
import { isPLPStream, readValue } from 'tedious/lib/value-parser.js';

/**
 * A loopback stand-in for SQL Server, for tests and benchmarks on machines where no SQL Server can
 * run. It speaks TDS with tedious's own message, packet and token classes (as tedious's unit tests
 * build theirs): it completes PRELOGIN and LOGIN7, answers SQL batches, RPCs (sp_executesql with
 * its parameters decoded), bulk loads (rows decoded by tedious's token parser) and transaction
 * requests, and records all of it in order, with the transaction each request ran in.
 *
 * It has no T-SQL: a statement's answer (rows, a row count, an error) comes from the `respond`
 * function a test gives, and is empty otherwise (application locks are granted). What it keeps of SQL Server's behaviour is the
 * transaction bookkeeping: BEGIN, COMMIT and ROLLBACK, and the rollback of the whole transaction
 * when a statement fails in a session that sent `set xact_abort on`.
 */

/** tedious's modules are CommonJS: Node hands their `exports` to a default import, tsx and vitest may hand `exports.default`. */
function cjs<T>(module: { default: T }): T {
  return (module as { default?: T }).default ?? (module as unknown as T);
}

const Debug = cjs(DebugModule);
const IncomingMessageStream = cjs(IncomingMessageStreamModule);
const OutgoingMessageStream = cjs(OutgoingMessageStreamModule);
const Message = cjs(MessageModule);
const PreloginPayload = cjs(PreloginPayloadModule);
const StreamParser = cjs(StreamParserModule);

const TYPE = { SQL_BATCH: 0x01, RPC: 0x03, TABULAR_RESULT: 0x04, ATTENTION: 0x06, BULK_LOAD: 0x07, TRANSACTION_MANAGER: 0x0e, LOGIN7: 0x10, PRELOGIN: 0x12 };
const TM = { BEGIN: 5, COMMIT: 7, ROLLBACK: 8 };
const ENV = { BEGIN: 8, COMMIT: 9, ROLLBACK: 10 };
const PARSER_OPTIONS = { useUTC: true, lowerCaseGuids: false, tdsVersion: '7_4', useColumnNames: false, camelCaseColumns: false, columnNameReplacer: undefined };
const SP_EXECUTESQL = 10;

export type FakeValue = string | number | bigint | boolean | null;

export interface FakeParam {
  readonly name: string;
  /** tedious's name of the type on the wire: NVarChar, IntN (BigInt), FloatN, BitN. */
  readonly wireType: string;
  readonly value: unknown;
}

export type FakeRequest =
  | { readonly kind: 'batch'; readonly connection: number; readonly transaction: string | undefined; readonly sql: string }
  | {
      readonly kind: 'rpc';
      readonly connection: number;
      readonly transaction: string | undefined;
      /** sp_executesql's statement and declarations (`@p1 nvarchar(max), @p2 bigint`), then its values. */
      readonly sql: string;
      readonly declarations: string;
      readonly params: readonly FakeParam[];
    }
  | {
      readonly kind: 'bulk';
      readonly connection: number;
      readonly transaction: string | undefined;
      readonly columns: readonly { readonly name: string; readonly wireType: string; readonly length: number | undefined; readonly nullable: boolean }[];
      readonly rows: readonly (readonly unknown[])[];
    }
  | {
      readonly kind: 'begin' | 'commit' | 'rollback';
      readonly connection: number;
      readonly transaction: string | undefined;
      /** A rollback the server made itself: a statement failed under XACT_ABORT ON. */
      readonly byServer?: true;
    };

/** What a statement answers: rows (columns typed from their first non-null value), a count, or an error. */
export interface FakeAnswer {
  readonly rows?: readonly Readonly<Record<string, FakeValue>>[];
  readonly rowCount?: number;
  readonly error?: { readonly number: number; readonly message: string };
}

export type Responder = (request: Extract<FakeRequest, { kind: 'batch' | 'rpc' }>) => FakeAnswer | undefined;

/** The one answer every session needs: application locks are granted (sp_getapplock's result 0, as the row `r`). */
export const grantApplocks: Responder = (request) => (/sp_getapplock/.test(request.sql) ? { rows: [{ r: 0 }] } : undefined);

export class FakeTdsServer {
  readonly requests: FakeRequest[] = [];
  /** Bytes received from clients, TDS headers included. */
  bytesReceived = 0;
  respond: Responder = grantApplocks;
  private readonly server = net.createServer((socket) => this.serve(socket));
  private readonly sockets = new Set<net.Socket>();
  private connections = 0;
  private transactions = 0;

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The SQL text of every batch and RPC, in order. */
  statements(): string[] {
    return this.requests.flatMap((request) => (request.kind === 'batch' || request.kind === 'rpc' ? [request.sql] : []));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
    });
    socket.on('error', () => undefined);
    const debug = new Debug();
    const incoming = new IncomingMessageStream(debug);
    const outgoing = new OutgoingMessageStream(debug, { packetSize: 4096 });
    socket.pipe(incoming);
    outgoing.pipe(socket);
    const session: Session = { id: ++this.connections, transaction: undefined, xactAbort: false };
    const reply = (...tokens: Buffer[]): void => {
      const message = new Message({ type: TYPE.TABULAR_RESULT });
      message.end(Buffer.concat(tokens));
      outgoing.write(message);
    };
    void (async () => {
      for await (const message of incoming as AsyncIterable<InstanceType<typeof Message>>) {
        const chunks: Buffer[] = [];
        for await (const chunk of message as AsyncIterable<Buffer>) chunks.push(chunk);
        const payload = Buffer.concat(chunks);
        switch (message.type) {
          case TYPE.PRELOGIN: {
            const answer = new Message({ type: TYPE.PRELOGIN });
            answer.end(new PreloginPayload({ encrypt: false, version: { major: 16, minor: 0, build: 1000, subbuild: 0 } }).data);
            outgoing.write(answer);
            break;
          }
          case TYPE.LOGIN7:
            reply(loginAck(), done(0, false));
            break;
          case TYPE.SQL_BATCH:
          case TYPE.RPC: {
            const request = message.type === TYPE.SQL_BATCH ? this.batch(session, payload) : this.rpc(session, payload);
            this.requests.push(request);
            if (/set xact_abort on/i.test(request.sql)) session.xactAbort = true;
            reply(...this.answer(session, this.respond(request)));
            break;
          }
          case TYPE.BULK_LOAD: {
            const bulk = await this.bulk(session, payload);
            this.requests.push(bulk);
            reply(done(bulk.rows.length, true));
            break;
          }
          case TYPE.TRANSACTION_MANAGER:
            reply(...this.transactionRequest(session, payload), done(0, false));
            break;
          case TYPE.ATTENTION:
            reply(done(0, false, 0x20));
            break;
          default:
            reply(errorToken(50000, `the fake TDS server does not answer message type ${message.type}`), done(0, false, 0x02));
        }
      }
    })().catch(() => socket.destroy());
  }

  private answer(session: Session, answer: FakeAnswer | undefined): Buffer[] {
    if (answer?.error) {
      const tokens = [errorToken(answer.error.number, answer.error.message)];
      // With XACT_ABORT ON the server rolls the whole transaction back on a run-time error.
      if (session.xactAbort && session.transaction !== undefined) {
        tokens.push(envChange(ENV.ROLLBACK, Buffer.alloc(0), descriptor(session.transaction)));
        this.requests.push({ kind: 'rollback', connection: session.id, transaction: session.transaction, byServer: true });
        session.transaction = undefined;
      }
      return [...tokens, done(0, false, 0x02)];
    }
    if (answer?.rows !== undefined) return [...resultSet(answer.rows), done(answer.rows.length, true)];
    return [done(answer?.rowCount ?? 0, answer?.rowCount !== undefined)];
  }

  private batch(session: Session, payload: Buffer): Extract<FakeRequest, { kind: 'batch' }> {
    const start = payload.readUInt32LE(0);
    return { kind: 'batch', connection: session.id, transaction: session.transaction, sql: payload.toString('ucs2', start) };
  }

  private rpc(session: Session, payload: Buffer): Extract<FakeRequest, { kind: 'rpc' }> {
    let offset = payload.readUInt32LE(0);
    const nameLength = payload.readUInt16LE(offset);
    offset += 2;
    if (nameLength === 0xffff) {
      const id = payload.readUInt16LE(offset);
      if (id !== SP_EXECUTESQL) throw new Error(`the fake TDS server only answers sp_executesql, not procedure ${id}`);
      offset += 2;
    } else {
      offset += nameLength * 2;
    }
    offset += 2; // option flags
    const params: FakeParam[] = [];
    while (offset < payload.length) {
      const nameChars = payload.readUInt8(offset);
      const name = payload.toString('ucs2', offset + 1, offset + 1 + nameChars * 2);
      offset += 1 + nameChars * 2 + 1; // name, status flags
      // readMetadata reads a COLMETADATA entry: user type (4 bytes) and flags (2) before the
      // TYPE_INFO a parameter starts with. The six bytes before it are read and ignored.
      const meta = readMetadata(payload, offset - 6, PARSER_OPTIONS);
      offset = meta.offset;
      const value = readParamValue(payload, offset, meta.value);
      offset = value.offset;
      params.push({ name, wireType: meta.value.type.name, value: value.value });
    }
    const [statement, declarations, ...values] = params;
    return {
      kind: 'rpc',
      connection: session.id,
      transaction: session.transaction,
      sql: typeof statement?.value === 'string' ? statement.value : '',
      declarations: typeof declarations?.value === 'string' ? declarations.value : '',
      params: values,
    };
  }

  private async bulk(session: Session, payload: Buffer): Promise<Extract<FakeRequest, { kind: 'bulk' }>> {
    let columns: Extract<FakeRequest, { kind: 'bulk' }>['columns'] = [];
    const rows: unknown[][] = [];
    for await (const token of StreamParser.parseTokens([payload], new Debug(), PARSER_OPTIONS)) {
      if (token instanceof ColMetadataToken) {
        columns = token.columns.map((column) => ({ name: column.colName, wireType: column.type.name, length: column.dataLength, nullable: (column.flags & 0x01) === 1 }));
      } else if (token instanceof RowToken) {
        // tedious types a row's columns as any: each is its metadata and decoded value.
        const cells = token.columns as readonly { readonly value: unknown }[];
        rows.push(cells.map((column) => column.value));
      }
    }
    return { kind: 'bulk', connection: session.id, transaction: session.transaction, columns, rows };
  }

  private transactionRequest(session: Session, payload: Buffer): Buffer[] {
    const type = payload.readUInt16LE(payload.readUInt32LE(0));
    if (type === TM.BEGIN) {
      session.transaction = String(++this.transactions);
      this.requests.push({ kind: 'begin', connection: session.id, transaction: session.transaction });
      return [envChange(ENV.BEGIN, descriptor(session.transaction), Buffer.alloc(0))];
    }
    const ended = session.transaction;
    session.transaction = undefined;
    const kind = type === TM.COMMIT ? 'commit' : 'rollback';
    this.requests.push({ kind, connection: session.id, transaction: ended });
    return [envChange(kind === 'commit' ? ENV.COMMIT : ENV.ROLLBACK, Buffer.alloc(0), descriptor(ended ?? '0'))];
  }
}

interface Session {
  readonly id: number;
  transaction: string | undefined;
  xactAbort: boolean;
}

function readParamValue(payload: Buffer, offset: number, metadata: Metadata): { value: unknown; offset: number } {
  if (!isPLPStream(metadata)) {
    const read = readValue(payload, offset, metadata, PARSER_OPTIONS);
    return { value: read.value, offset: read.offset };
  }
  // PLP: a 64-bit total length (all ones: NULL), then chunks of a 32-bit length, ending with 0.
  if (payload.readBigUInt64LE(offset) === 0xffffffffffffffffn) return { value: null, offset: offset + 8 };
  let position = offset + 8;
  const parts: Buffer[] = [];
  for (;;) {
    const length = payload.readUInt32LE(position);
    position += 4;
    if (length === 0) break;
    parts.push(payload.subarray(position, position + length));
    position += length;
  }
  const bytes = Buffer.concat(parts);
  return { value: metadata.type.name === 'NVarChar' ? bytes.toString('ucs2') : bytes, offset: position };
}

function descriptor(transaction: string): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(transaction));
  return buffer;
}

function loginAck(): Buffer {
  const name = Buffer.from('fake SQL Server', 'ucs2');
  const body = Buffer.concat([Buffer.from([0x00, 0x74, 0x00, 0x00, 0x04, name.length / 2]), name, Buffer.from([16, 0, 0, 0])]);
  return token(0xad, body);
}

function token(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head.writeUInt8(type, 0);
  head.writeUInt16LE(body.length, 1);
  return Buffer.concat([head, body]);
}

function envChange(type: number, newValue: Buffer, oldValue: Buffer): Buffer {
  return token(0xe3, Buffer.concat([Buffer.from([type, newValue.length]), newValue, Buffer.from([oldValue.length]), oldValue]));
}

/** DONE: `count` rows when `counted`; status bits 0x02 error, 0x20 attention acknowledged. */
function done(count: number, counted: boolean, status = 0): Buffer {
  const buffer = Buffer.alloc(13);
  buffer.writeUInt8(0xfd, 0);
  buffer.writeUInt16LE(status | (counted ? 0x10 : 0), 1);
  buffer.writeUInt16LE(0, 3);
  buffer.writeBigUInt64LE(BigInt(count), 5);
  return buffer;
}

function errorToken(number: number, message: string): Buffer {
  const text = Buffer.from(message, 'ucs2');
  const server = Buffer.from('fake', 'ucs2');
  const head = Buffer.alloc(6);
  head.writeUInt32LE(number, 0);
  head.writeUInt8(1, 4); // state
  head.writeUInt8(16, 5); // class: an error the user can correct
  const length = Buffer.alloc(2);
  length.writeUInt16LE(message.length);
  return token(0xaa, Buffer.concat([head, length, text, Buffer.from([server.length / 2]), server, Buffer.from([0]), Buffer.alloc(4)]));
}

/** Latin1_General_CI_AS, the collation of the NVARCHAR columns answered. */
const COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]);

type Wire = 'text' | 'int' | 'float' | 'bit';

function wireOf(value: FakeValue | undefined): Wire {
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) return 'int';
  if (typeof value === 'number') return 'float';
  if (typeof value === 'boolean') return 'bit';
  return 'text';
}

/** COLMETADATA and a ROW per row. */
function resultSet(rows: readonly Readonly<Record<string, FakeValue>>[]): Buffer[] {
  const names = Object.keys(rows[0] ?? {});
  const wires = names.map((name) => wireOf(rows.map((row) => row[name]).find((value) => value !== null && value !== undefined)));
  const meta = [Buffer.from([0x81]), u16(names.length)];
  names.forEach((name, index) => {
    meta.push(Buffer.alloc(4), u16(0x01)); // user type, flags: nullable
    switch (wires[index]) {
      case 'int':
        meta.push(Buffer.from([0x26, 8]));
        break;
      case 'float':
        meta.push(Buffer.from([0x6d, 8]));
        break;
      case 'bit':
        meta.push(Buffer.from([0x68, 1]));
        break;
      default:
        meta.push(Buffer.from([0xe7]), u16(8000), COLLATION);
    }
    meta.push(Buffer.from([name.length]), Buffer.from(name, 'ucs2'));
  });
  const out = [Buffer.concat(meta)];
  for (const row of rows) {
    const cells: Buffer[] = [Buffer.from([0xd1])];
    names.forEach((name, index) => {
      const value = row[name] ?? null;
      const wire = wires[index];
      if (value === null) {
        cells.push(wire === 'text' ? u16(0xffff) : Buffer.from([0]));
      } else if (wire === 'int') {
        const buffer = Buffer.alloc(9);
        buffer.writeUInt8(8, 0);
        buffer.writeBigInt64LE(BigInt(value), 1);
        cells.push(buffer);
      } else if (wire === 'float') {
        const buffer = Buffer.alloc(9);
        buffer.writeUInt8(8, 0);
        buffer.writeDoubleLE(Number(value), 1);
        cells.push(buffer);
      } else if (wire === 'bit') {
        cells.push(Buffer.from([1, value === true ? 1 : 0]));
      } else {
        const text = Buffer.from(String(value), 'ucs2');
        cells.push(u16(text.length), text);
      }
    });
    out.push(Buffer.concat(cells));
  }
  return out;
}

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16LE(value);
  return buffer;
}
