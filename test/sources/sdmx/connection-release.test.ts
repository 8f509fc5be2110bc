import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../../src/http/undici-client.js';
import { runStream, StreamRunError } from '../../../src/runner/run-stream.js';
import { SdmxSource } from '../../../src/sources/sdmx/sdmx-source.js';
import type { Store } from '../../../src/store/store.js';
import { memoryLogger } from '../../helpers/silent-log.js';
import { tempSqliteStore } from '../../helpers/stores.js';
import { startLoopbackNsi } from './loopback-nsi.js';

const STRUCTURE_JSON = readFileSync(new URL('../../fixtures/sdmx/df_test_delete_structure.json', import.meta.url), 'utf8');
const STRUCTURE_PATH = '/dataflow/OECD/DF_TEST_DELETE/1.0';
const DATA_PATH = '/data/OECD,DF_TEST_DELETE,1.0/all';
const CSV_TYPE = 'application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8';
const ROW = 'dataflow,OECD:DF_TEST_DELETE(1.0),I,A,A,2020,1,a,AA,GA,DF\n';
/** Several times the client's read-ahead: a body nobody reads stays in flight on its connection. */
const ROWS = ROW.repeat(Math.ceil((8 * 1024 * 1024) / ROW.length));
const ROWS_WITHOUT_DIM_2 = ROWS.replaceAll(',I,A,A,', ',I,A,');

/**
 * A run that refuses an answer before reading all of it must give the connection back: otherwise
 * the request stays in flight for good, the client's close() (the daemon's shutdown) never ends,
 * and each such run holds one more socket.
 */
describe('a refused SDMX answer releases its connection', () => {
  let nsi: Awaited<ReturnType<typeof startLoopbackNsi>>;
  let store: Store;
  let cleanup: () => Promise<void>;
  let answer: string;
  /** How many more structure requests are answered before the NSI starts failing them. */
  let structureFailsAfter = Number.POSITIVE_INFINITY;

  beforeAll(async () => {
    nsi = await startLoopbackNsi();
    ({ store, cleanup } = await tempSqliteStore());
    nsi.route(STRUCTURE_PATH, (_request, res) => {
      structureFailsAfter -= 1;
      if (structureFailsAfter < 0) res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(STRUCTURE_JSON);
    });
    nsi.route(DATA_PATH, (_request, res) => {
      const body = Buffer.from(answer);
      res.writeHead(200, { 'content-type': CSV_TYPE, 'content-length': String(body.length) }).end(body);
    });
  });
  afterAll(async () => {
    await nsi.close();
    await cleanup();
  });

  async function refusedRun(): Promise<{ error: unknown; closed: boolean }> {
    nsi.requests.length = 0;
    const http = createHttpClient({ maxRetries: 0 });
    const source = new SdmxSource({
      id: 'sdmx:release:OECD:DF_TEST_DELETE(1.0):data',
      jobId: 'release',
      mode: 'data',
      endpoint: nsi.url,
      api: 'v1',
      dataflow: { agency: 'OECD', id: 'DF_TEST_DELETE', version: '1.0' },
      prefix: 'release',
      overlapMs: 0,
      structureFormat: 'json',
    });
    const error = await runStream({ store, source, http, log: memoryLogger().log, signal: new AbortController().signal }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    structureFailsAfter = Number.POSITIVE_INFINITY;
    const closed = await Promise.race([http.close().then(() => true), sleep(5_000).then(() => false)]);
    return { error, closed };
  }

  it('when its header lacks a dimension the data structure defines', async () => {
    answer = `STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR\n${ROWS_WITHOUT_DIM_2}`;
    const { error, closed } = await refusedRun();
    expect(error).toBeInstanceOf(StreamRunError);
    expect(String(error)).toMatch(/DIM_2/);
    expect(closed).toBe(true);
  });

  it('when the data structure cannot be read again after the header named a column it does not define', async () => {
    answer = `STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR,VALID_FROM\n${ROWS.replaceAll('DF\n', 'DF,\n')}`;
    structureFailsAfter = 1;
    const { error, closed } = await refusedRun();
    expect(error).toBeInstanceOf(StreamRunError);
    expect(String(error)).toMatch(/503/);
    expect(closed).toBe(true);
  });

  it('when its first row is refused', async () => {
    answer = `STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR\ndataflow,OECD:DF_TEST_DELETE(1.0),X,A,A,2020,1,a,AA,GA,DF\n${ROWS}`;
    const { error, closed } = await refusedRun();
    expect(error).toBeInstanceOf(StreamRunError);
    expect(closed).toBe(true);
  });
});
