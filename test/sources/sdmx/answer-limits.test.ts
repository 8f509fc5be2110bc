import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GivenLimits } from '../../../src/core/limits.js';
import type { StreamSource } from '../../../src/core/source.js';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { runStream, StreamRunError } from '../../../src/runner/run-stream.js';
import { sdmxKind, sdmxOptions } from '../../../src/sources/sdmx/kind.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from '../../helpers/silent-log.js';
import { tempSqliteStore } from '../../helpers/stores.js';
import { startLoopbackNsi } from './loopback-nsi.js';

const STRUCTURE_JSON = readFileSync(new URL('../../fixtures/sdmx/df_test_delete_structure.json', import.meta.url), 'utf8');
const STRUCTURE_PATH = '/dataflow/OECD/DF_TEST_DELETE/1.0';
const DATA_PATH = '/data/OECD,DF_TEST_DELETE,1.0/all';
const HEADER = 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR\n';
const ROW = 'dataflow,OECD:DF_TEST_DELETE(1.0),';
const CSV_TYPE = 'application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8';
const STREAM = 'sdmx:lim:OECD:DF_TEST_DELETE(1.0):data';
const LABEL = 'dataflow OECD:DF_TEST_DELETE(1.0)';
const MiB = 1024 * 1024;
const rows = (count: number, action = 'I'): string => Array.from({ length: count }, (_, i) => `${ROW}${action},Z,Z,P${i},${i},,,,\n`).join('');

let nsi: Awaited<ReturnType<typeof startLoopbackNsi>>;
let store: SqliteStore;
let cleanup: () => Promise<void>;
let http: UndiciHttpClient;

beforeEach(async () => {
  nsi = await startLoopbackNsi();
  ({ store, cleanup } = await tempSqliteStore());
  http = createHttpClient({ maxRetries: 0 });
  nsi.route(STRUCTURE_PATH, (_request, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(STRUCTURE_JSON));
});

afterEach(async () => {
  await http.close();
  await nsi.close();
  await cleanup();
});

/** The job's one data stream, expanded as the daemon does, with the limits the operator set. */
async function streamWith(limits: GivenLimits): Promise<StreamSource> {
  const options = sdmxOptions.parse({ endpoint: nsi.url, dataflows: ['OECD:DF_TEST_DELETE(1.0)'], overlap: '0s' });
  const [source] = await sdmxKind.expand({ id: 'lim', kind: 'sdmx' }, options, { http, log: memoryLogger().log, signal: new AbortController().signal, limits });
  return source as StreamSource;
}

const sync = (source: StreamSource, signal = new AbortController().signal) => runStream({ store, source, http, log: memoryLogger().log, signal });

/** Loads three observations, then serves `answer` to the next (incremental) request. */
async function loadedThen(answer: (res: ServerResponse) => void, limits: GivenLimits): Promise<{ failure: StreamRunError; before: unknown }> {
  nsi.route(DATA_PATH, (_request, res) => res.writeHead(200, { 'content-type': CSV_TYPE }).end(HEADER + rows(3)));
  await sync(await streamWith({}));
  const before = await store.readState(STREAM);
  nsi.route(DATA_PATH, (_request, res) => answer(res));
  const failure = await sync(await streamWith(limits)).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(StreamRunError);
  return { failure: failure as StreamRunError, before: before?.cursor };
}

/** Nothing of the refused answer is applied and the cursor has not moved. */
async function unchanged(before: unknown): Promise<void> {
  expect((await store.readTable('df_test_delete_obs')).map((row) => [row.TIME_PERIOD, row.OBS_VALUE])).toEqual([
    ['P0', '0'],
    ['P1', '1'],
    ['P2', '2'],
  ]);
  expect((await store.readState(STREAM))?.cursor).toEqual(before);
}

const raise = (key: string): string => `If the remote is right, raise "limits": {"${key}": ...} in the job or in defaults.limits`;

describe('SDMX answers past a limit end the run, naming the limit, the stream and the key to raise; nothing applied', () => {
  it('responseBytes: a body without a length that goes on past it', async () => {
    const { failure, before } = await loadedThen((res) => {
      res.writeHead(200, { 'content-type': CSV_TYPE });
      res.end(`${HEADER}${ROW}R,Z,Z,P0,${'9'.repeat(MiB)}`);
    }, { responseBytes: 256 * 1024 });
    expect(failure.message).toMatch(new RegExp(`^stream ${STREAM.replace(/[()]/g, '\\$&')}: .*the answer of http://127\\.0\\.0\\.1:\\d+/rest/data/\\S+ exceeds limits\\.responseBytes \\(256 KiB\\)`));
    expect(failure.message).toContain(raise('responseBytes'));
    await unchanged(before);
  });

  it('decodedBytes: a gzip bomb (32 MB in ~32 KB)', async () => {
    const bomb = gzipSync(`${HEADER}${ROW}R,Z,Z,P0,${'9'.repeat(32 * MiB)}\n`);
    const { failure, before } = await loadedThen((res) => res.writeHead(200, { 'content-type': CSV_TYPE, 'content-encoding': 'gzip' }).end(bomb), { decodedBytes: 2 * MiB });
    expect(failure.message).toMatch(/\/rest\/data\/\S+ \(decompressed\) exceeds limits\.decodedBytes \(2 MiB\)/);
    expect(failure.message).toContain(raise('decodedBytes'));
    await unchanged(before);
  });

  it('documentBytes: a structure message larger than it', async () => {
    const { failure, before } = await loadedThen((res) => res.writeHead(200, { 'content-type': CSV_TYPE }).end(HEADER), { documentBytes: 1024 });
    expect(failure.message).toMatch(/the answer of http:\/\/127\.0\.0\.1:\d+\/rest\/dataflow\/OECD\/DF_TEST_DELETE\/1\.0\S* exceeds limits\.documentBytes \(1 KiB\)/);
    await unchanged(before);
  });

  it('lineBytes: a line that does not end, refused once that much of it arrived', async () => {
    const { failure, before } = await loadedThen((res) => {
      res.writeHead(200, { 'content-type': CSV_TYPE });
      res.end(`${HEADER}${ROW}D,,,,,,,,\n${ROW}R,Z,Z,P0,${'9'.repeat(3 * MiB)}`);
    }, { lineBytes: MiB });
    expect(failure.message).toBe(`stream ${STREAM}: ${LABEL}: line 3 exceeds limits.lineBytes (1 MiB); nothing of it is applied. ${raise('lineBytes')}`);
    await unchanged(before);
  });

  it('cellBytes: one cell too long in a line within lineBytes', async () => {
    const { failure, before } = await loadedThen((res) => {
      res.writeHead(200, { 'content-type': CSV_TYPE });
      res.end(`${HEADER}${ROW}R,Z,Z,P0,1,${'a'.repeat(5000)},,,\n`);
    }, { cellBytes: 4096 });
    expect(failure.message).toBe(`stream ${STREAM}: ${LABEL}: line 2, cell 8 exceeds limits.cellBytes (4 KiB); nothing of it is applied. ${raise('cellBytes')}`);
    await unchanged(before);
  });

  it('rowsPerResponse: more rows than it', async () => {
    const { failure, before } = await loadedThen((res) => res.writeHead(200, { 'content-type': CSV_TYPE }).end(HEADER + `${ROW}D,,,,,,,,\n` + rows(10, 'R')), { rowsPerResponse: 5 });
    expect(failure.message).toBe(`stream ${STREAM}: ${LABEL}: the answer (row on line 7) exceeds limits.rowsPerResponse (5 rows); nothing of it is applied. ${raise('rowsPerResponse')}`);
    await unchanged(before);
  });
});

describe('SDMX: a stop during a huge line', () => {
  it('ends the run promptly: the server sends little after the abort, and nothing is applied', async () => {
    let sentAtAbort = -1;
    let sent = 0;
    let closed!: () => void;
    const connectionClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const stop = new AbortController();
    const { failure, before } = await (async () => {
      nsi.route(DATA_PATH, (_request, res) => res.writeHead(200, { 'content-type': CSV_TYPE }).end(HEADER + rows(3)));
      await sync(await streamWith({}));
      const state = await store.readState(STREAM);
      nsi.route(DATA_PATH, (_request, res) => {
        res.writeHead(200, { 'content-type': CSV_TYPE });
        res.write(`${HEADER}${ROW}R,Z,Z,P0,`);
        const piece = '7'.repeat(64 * 1024);
        res.on('close', () => closed());
        const more = (): void => {
          while (!res.destroyed) {
            sent += piece.length;
            if (sent >= 32 * MiB && sentAtAbort < 0) {
              sentAtAbort = sent;
              stop.abort(new Error('SIGTERM'));
            }
            if (!res.write(piece)) return void res.once('drain', more);
          }
        };
        more();
      });
      const error = await sync(await streamWith({ lineBytes: 4 * 2 ** 30 }), stop.signal).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      return { failure: error as StreamRunError, before: state?.cursor };
    })();
    await connectionClosed;
    expect(failure).toBeInstanceOf(StreamRunError);
    expect(failure.status).toBe('idle');
    // Socket buffers on both sides and the client's read-ahead: a few megabytes, not the hundreds a
    // tokenizer busy re-scanning its pending text would let through before it looked at the signal.
    expect(sent - sentAtAbort).toBeLessThan(16 * MiB);
    await unchanged(before);
  });
});
