import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { runStream, StreamRunError } from '../../../src/runner/run-stream.js';
import { SdmxSource } from '../../../src/sources/sdmx/sdmx-source.js';
import type { Store } from '../../../src/store/store.js';
import { memoryLogger } from '../../helpers/silent-log.js';
import { enginesUnderTest } from '../../helpers/stores.js';
import { startLoopbackNsi } from './loopback-nsi.js';

const STRUCTURE_JSON = readFileSync(new URL('../../fixtures/sdmx/df_test_delete_structure.json', import.meta.url), 'utf8');
const STRUCTURE_PATH = '/dataflow/OECD/DF_TEST_DELETE/1.0';
const DATA_PATH = '/data/OECD,DF_TEST_DELETE,1.0/all';
const HEADER = 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR\n';
const ROW = 'dataflow,OECD:DF_TEST_DELETE(1.0),';
const CSV_TYPE = 'application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8';
const BASE = HEADER + ['I,A,A,2020,1,a,AA,GA,DF', 'I,A,A,2021,2,b,AA,GA,DF', 'I,B,B,2020,4,,BB,GB,DF'].map((row) => `${ROW}${row}\n`).join('');

/**
 * An answer framed only by the connection closing (no Content-Length, not chunked, not compressed):
 * written straight to the socket, which is then closed, as a server or proxy that dies mid-answer does.
 */
function closeDelimited(res: ServerResponse, body: string): void {
  const socket = res.socket;
  if (socket === null) throw new Error('no socket');
  socket.end(`HTTP/1.1 200 OK\r\ncontent-type: ${CSV_TYPE}\r\nconnection: close\r\n\r\n${body}`);
}

const engines = await enginesUnderTest();

describe.each(engines)('a truncated SDMX answer never deletes data ($engine)', (engine) => {
  let nsi: Awaited<ReturnType<typeof startLoopbackNsi>>;
  let opened: Awaited<ReturnType<(typeof engines)[number]['open']>>;
  let store: Store;
  let http: UndiciHttpClient;
  let answer: string;

  beforeAll(async () => {
    nsi = await startLoopbackNsi();
    opened = await engine.open();
    store = opened.store;
    http = createHttpClient({ maxRetries: 0 });
    nsi.route(STRUCTURE_PATH, (_request, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(STRUCTURE_JSON));
    nsi.route(DATA_PATH, (_request, res) => closeDelimited(res, answer));
  });

  afterAll(async () => {
    await http.close();
    await nsi.close();
    await opened.cleanup();
  });

  const STREAM = 'sdmx:cut:OECD:DF_TEST_DELETE(1.0):data';
  const sync = () => {
    const source = new SdmxSource({
      id: STREAM,
      jobId: 'cut',
      mode: 'data',
      endpoint: nsi.url,
      api: 'v1',
      dataflow: { agency: 'OECD', id: 'DF_TEST_DELETE', version: '1.0' },
      prefix: 'cut',
      overlapMs: 0,
      structureFormat: 'json',
    });
    return runStream({ store, source, http, log: memoryLogger().log, signal: new AbortController().signal });
  };
  const observations = async () => (await store.readTable('cut_obs')).map((row) => [row.DIM_1, row.DIM_2, row.TIME_PERIOD, row.OBS_VALUE]);

  it('refuses an answer without Content-Length cut after "…,R,A,A,2020": the run fails naming the line, nothing is applied, the cursor stays', async () => {
    answer = BASE;
    await sync();
    const before = await store.readState(STREAM);
    expect(await observations()).toEqual([
      ['A', 'A', '2020', '1'],
      ['A', 'A', '2021', '2'],
      ['B', 'B', '2020', '4'],
    ]);

    // Read as a whole row, this is a Replace of A.A.2020 that omits every value: a deletion.
    answer = `${HEADER}${ROW}R,B,B,2020,5,,,,\n${ROW}R,A,A,2020`;
    const failure = await sync().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StreamRunError);
    expect((failure as Error).message).toBe(
      `stream ${STREAM}: dataflow OECD:DF_TEST_DELETE(1.0): line 3: the answer ends inside this line (no line break after it) and its length was not announced: it was cut short; nothing of it is applied`,
    );
    expect(await observations()).toEqual([
      ['A', 'A', '2020', '1'],
      ['A', 'A', '2021', '2'],
      ['B', 'B', '2020', '4'],
    ]);
    expect((await store.readState(STREAM))?.cursor).toEqual(before?.cursor);
  });

  it('refuses a row cut at a cell boundary even when its line break arrived: fewer cells than the header is an error, not omitted values', async () => {
    const before = await store.readState(STREAM);
    answer = `${HEADER}${ROW}R,A,A,2020\n`;
    await expect(sync()).rejects.toThrow(`dataflow OECD:DF_TEST_DELETE(1.0): line 2 (OECD:DF_TEST_DELETE(1.0)): the row has 6 cells but the header has 11`);
    expect(await observations()).toContainEqual(['A', 'A', '2020', '1']);
    expect((await store.readState(STREAM))?.cursor).toEqual(before?.cursor);
  });

  it('still applies a complete close-delimited answer', async () => {
    answer = `${HEADER}${ROW}R,A,A,2020,7,,,,\n`;
    await sync();
    expect(await observations()).toContainEqual(['A', 'A', '2020', '7']);
  });
});
