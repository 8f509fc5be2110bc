import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { runStream, StreamRunError } from '../../../src/runner/run-stream.js';
import { builtInKinds } from '../../../src/sources/registry.js';
import { parseDataflowRef } from '../../../src/sources/sdmx/dataflow-ref.js';
import { sdmxKind, sdmxOptions } from '../../../src/sources/sdmx/kind.js';
import { formatUpdatedAfter, SdmxSource, type SdmxSourceOptions } from '../../../src/sources/sdmx/sdmx-source.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from '../../helpers/silent-log.js';
import { tempSqliteStore } from '../../helpers/stores.js';
import { startLoopbackNsi, type RecordedRequest } from './loopback-nsi.js';

const FIXTURES = new URL('../../fixtures/sdmx/', import.meta.url);
const STRUCTURE_JSON = readFileSync(new URL('df_test_delete_structure.json', FIXTURES), 'utf8');
const STRUCTURE_XML = readFileSync(new URL('df_test_delete_structure.xml', FIXTURES), 'utf8');
const STRUCTURE_PATH = '/dataflow/OECD/DF_TEST_DELETE/1.0';
const DATA_PATH = '/data/OECD,DF_TEST_DELETE,1.0/all';
const HEADER = 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR\n';
const csv = (...rows: string[]): string => HEADER + rows.map((row) => `dataflow,OECD:DF_TEST_DELETE(1.0),${row}\n`).join('');
const CSV_TYPE = 'application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8';

const SERVER_TIME = new Date('2024-03-01T12:00:00Z');
let localTime = new Date('2024-03-01T12:00:30Z');

let nsi: Awaited<ReturnType<typeof startLoopbackNsi>>;
let store: SqliteStore;
let cleanup: () => Promise<void>;
let http: UndiciHttpClient;
let logged: ReturnType<typeof memoryLogger>;

beforeEach(async () => {
  nsi = await startLoopbackNsi();
  ({ store, cleanup } = await tempSqliteStore());
  http = createHttpClient({ maxRetries: 0 });
  logged = memoryLogger();
  localTime = new Date('2024-03-01T12:00:30Z');
  serveStructure(STRUCTURE_JSON);
});

afterEach(async () => {
  await http.close();
  await nsi.close();
  await cleanup();
});

function serveStructure(body: string, type = 'application/vnd.sdmx.structure+json; version=1.0.0; charset=utf-8'): void {
  nsi.route(STRUCTURE_PATH, (_request, res) => {
    res.setHeader('Date', SERVER_TIME.toUTCString());
    res.writeHead(200, { 'content-type': type }).end(body);
  });
}

function serveData(answer: (request: RecordedRequest, res: ServerResponse) => void, path = DATA_PATH): void {
  nsi.route(path, answer);
}

const csvAnswer = (body: string) => (_request: RecordedRequest, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': CSV_TYPE }).end(body);
};

function source(overrides: Partial<SdmxSourceOptions> = {}): SdmxSource {
  return new SdmxSource({
    id: 'sdmx:job:OECD:DF_TEST_DELETE(1.0):data',
    jobId: 'job',
    mode: 'data',
    endpoint: nsi.url,
    api: 'v1',
    dataflow: { agency: 'OECD', id: 'DF_TEST_DELETE', version: '1.0' },
    prefix: 'td',
    overlapMs: 5 * 60_000,
    structureFormat: 'auto',
    now: () => localTime,
    ...overrides,
  });
}

const sync = (stream: SdmxSource = source()) => runStream({ store, source: stream, http, log: logged.log, signal: new AbortController().signal });

async function syncFails(stream: SdmxSource = source()): Promise<StreamRunError> {
  const failure = await sync(stream).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(StreamRunError);
  return failure as StreamRunError;
}

const obs = async () => (await store.readTable('td_obs')).map((row) => [row.DIM_1, row.DIM_2, row.TIME_PERIOD, row.OBS_VALUE, row.OBS_ATTR]);
const cursorOf = async (id = source().id) => (await store.readState(id))?.cursor as { updatedAfter: string } | null | undefined;
const dataRequests = () => nsi.requests.filter((request) => request.path.startsWith('/data/') || request.path.startsWith('/v2/data/'));

const BASE = csv('I,A,A,2020,1,a,AA,GA,DF', 'I,A,A,2021,2,b,AA,GA,DF', 'I,A,B,2020,3,c,AB,GB,DF', 'I,B,B,2020,4,,BB,GB,DF');

describe('SDMX source: full load, then updatedAfter', () => {
  it('loads everything without updatedAfter, then asks for changes since the watermark, percent-encoded, and applies R and D rows', async () => {
    serveData(csvAnswer(BASE));
    const first = await sync();
    expect(first.commits).toBe(1);
    expect(await obs()).toEqual([
      ['A', 'A', '2020', '1', 'a'],
      ['A', 'A', '2021', '2', 'b'],
      ['A', 'B', '2020', '3', 'c'],
      ['B', 'B', '2020', '4', null],
    ]);
    expect(await store.readTable('td_attr_gr')).toEqual([
      { DIM_2: 'A', GR_ATTR: 'GA' },
      { DIM_2: 'B', GR_ATTR: 'GB' },
    ]);
    const [full] = dataRequests();
    expect(full?.rawUrl).toBe('/rest/data/OECD,DF_TEST_DELETE,1.0/all');
    expect(full?.headers.accept).toBe('application/vnd.sdmx.data+csv;version=2.0.0');
    expect(full?.headers['accept-language']).toBe('en');
    expect(full?.headers['accept-encoding']).toMatch(/gzip/);

    // The server's clock (12:00:00) is behind the local one (12:00:30): the watermark is 5 minutes before the server's.
    const cursor = await cursorOf();
    expect(cursor?.updatedAfter).toMatch(/^2024-03-0[12]T\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    expect(new Date(cursor?.updatedAfter as string).toISOString()).toBe('2024-03-01T11:55:00.000Z');

    serveData(csvAnswer(csv('R,A,A,2021,20,,,,', 'D,A,B,,,,,,', 'R,B,B,2021,5,x,,,')));
    localTime = new Date('2024-03-01T11:59:00Z');
    await sync();
    const incremental = dataRequests()[1] as RecordedRequest;
    const sent = encodeURIComponent(cursor?.updatedAfter as string);
    expect(sent).toMatch(/%3A.*%2B|%3A.*-/);
    expect(incremental.rawUrl).toBe(`/rest/data/OECD,DF_TEST_DELETE,1.0/all?updatedAfter=${sent}`);
    expect(incremental.query.get('updatedAfter')).toBe(cursor?.updatedAfter);
    expect(await obs()).toEqual([
      ['A', 'A', '2020', '1', 'a'],
      ['A', 'A', '2021', '20', null],
      ['B', 'B', '2020', '4', null],
      ['B', 'B', '2021', '5', 'x'],
    ]);
    expect(await store.readTable('td_attr_series')).toEqual([
      { DIM_1: 'A', DIM_2: 'A', TS_ATTR: 'AA' },
      { DIM_1: 'B', DIM_2: 'B', TS_ATTR: 'BB' },
    ]);
    // The local clock (11:59) is now behind the server's: the earlier of the two wins.
    expect(new Date((await cursorOf())?.updatedAfter as string).toISOString()).toBe('2024-03-01T11:54:00.000Z');
  });

  it('formats updatedAfter with an explicit offset, never Z', () => {
    expect(formatUpdatedAfter(new Date('2024-03-01T11:55:00Z'))).toMatch(/^2024-03-0[12]T\d\d:\d\d:00[+-]\d\d:\d\d$/);
  });

  it('reads a gzip body and a full load swaps in fresh tables: rows that vanished at the source are gone', async () => {
    serveData(csvAnswer(BASE));
    await sync();
    serveData((request, res) => {
      expect(request.query.has('updatedAfter')).toBe(false);
      res.writeHead(200, { 'content-type': CSV_TYPE, 'content-encoding': 'gzip' }).end(gzipSync(csv('I,C,C,2020,9,,CC,GC,DF2')));
    });
    await store.transaction((tx) => store.readState(source().id).then((state) => tx.writeState({ ...state!, cursor: null })));
    await sync();
    expect(await obs()).toEqual([['C', 'C', '2020', '9', null]]);
    expect(await store.readTable('td_attr_series')).toEqual([{ DIM_1: 'C', DIM_2: 'C', TS_ATTR: 'CC' }]);
    expect(await store.readTable('td_dataset_attr')).toEqual([{ dataset_row: 1, DF_ATTR: 'DF2' }]);
  });

  it.each([
    ['404 NoRecordsFound', (res: ServerResponse) => res.writeHead(404, { 'content-type': 'text/plain' }).end('NoRecordsFound: Could not find data')],
    ['404 NoResultsFound (XML error)', (res: ServerResponse) => res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><ErrorMessage code="100"><Text>NoResultsFound</Text></ErrorMessage></Error>')],
    ['204', (res: ServerResponse) => res.writeHead(204).end()],
    ['304', (res: ServerResponse) => res.writeHead(304).end()],
  ])('treats %s as no changes and still advances the cursor', async (_name, answer) => {
    serveData(csvAnswer(BASE));
    await sync();
    serveData((_request, res) => answer(res));
    localTime = new Date('2024-03-01T13:00:00Z');
    serveStructure(STRUCTURE_JSON);
    nsi.route(STRUCTURE_PATH, (_request, res) => {
      res.setHeader('Date', new Date('2024-03-01T13:00:00Z').toUTCString());
      res.writeHead(200, { 'content-type': 'application/json' }).end(STRUCTURE_JSON);
    });
    const result = await sync();
    expect(result.commits).toBe(1);
    expect(new Date((await cursorOf())?.updatedAfter as string).toISOString()).toBe('2024-03-01T12:55:00.000Z');
    expect(await obs()).toHaveLength(4);
  });

  it('loads an empty dataflow (404 NoRecordsFound on the first load) into empty tables', async () => {
    serveData((_request, res) => res.writeHead(404).end('NoRecordsFound'));
    await sync();
    expect(await obs()).toEqual([]);
    expect(await cursorOf()).not.toBeNull();
  });

  it('falls back to SDMX-ML 2.1 when JSON structures are refused with 406', async () => {
    nsi.route(STRUCTURE_PATH, (request, res) => {
      res.setHeader('Date', SERVER_TIME.toUTCString());
      if (String(request.headers.accept).includes('json')) res.writeHead(406).end('Not Acceptable');
      else res.writeHead(200, { 'content-type': 'application/vnd.sdmx.structure+xml; version=2.1' }).end(STRUCTURE_XML);
    });
    serveData(csvAnswer(BASE));
    await sync();
    expect(await obs()).toHaveLength(4);
    const accepts = nsi.requests.filter((request) => request.path === STRUCTURE_PATH).map((request) => request.headers.accept);
    expect(accepts).toEqual([expect.stringContaining('structure+json'), 'application/vnd.sdmx.structure+xml;version=2.1']);
  });

  it('uses the v1 data path with a key filter, "+" between codes as written, and adds updatedAfter to it', async () => {
    const path = '/data/OECD,DF_TEST_DELETE,1.0/A+B..';
    serveData(csvAnswer(BASE), path);
    await sync(source({ key: 'A+B..' }));
    serveData(csvAnswer(csv('R,A,A,2020,9,,,,')), path);
    await sync(source({ key: 'A+B..' }));
    const [full, incremental] = dataRequests();
    expect(full?.rawUrl).toBe('/rest/data/OECD,DF_TEST_DELETE,1.0/A+B..');
    expect(incremental?.rawUrl).toMatch(/^\/rest\/data\/OECD,DF_TEST_DELETE,1\.0\/A\+B\.\.\?updatedAfter=2024-03-0[12]T[^&]+$/);
    expect((await obs())[0]).toEqual(['A', 'A', '2020', '9', null]);
  });

  it('uses the v2 data path with a key filter', async () => {
    serveData(csvAnswer(BASE), '/v2/data/dataflow/OECD/DF_TEST_DELETE/1.0/A.*.*');
    await sync(source({ api: 'v2', key: 'A..' }));
    expect(dataRequests()[0]?.rawUrl).toBe('/rest/v2/data/dataflow/OECD/DF_TEST_DELETE/1.0/A.*.*');
  });

  it('reads a ";"-separated answer, keeps its decimal commas as written and warns that the decimal mark may be ","', async () => {
    serveData(csvAnswer(HEADER.replaceAll(',', ';') + 'dataflow;OECD:DF_TEST_DELETE(1.0);I;A;A;2020;1,5;"a;b";;;\n'));
    await sync();
    expect(await obs()).toEqual([['A', 'A', '2020', '1,5', 'a;b']]);
    const warnings = logged.lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.level === 40);
    expect(warnings.map((line) => line.msg)).toEqual([
      'dataflow OECD:DF_TEST_DELETE(1.0): the CSV is separated by ";", not ","; its decimal mark may be "," too, values are stored as written',
    ]);
  });

  it('ignores custom columns the structure does not define, after checking the structure once more', async () => {
    serveData(csvAnswer(HEADER.replace('\n', ',VALID_FROM\n') + 'dataflow,OECD:DF_TEST_DELETE(1.0),I,A,A,2020,1,,,,,2024-01-01\n'));
    await sync();
    expect(await obs()).toEqual([['A', 'A', '2020', '1', null]]);
    expect(nsi.requests.filter((request) => request.path === STRUCTURE_PATH)).toHaveLength(2);
    expect(logged.lines.some((line) => line.includes('VALID_FROM'))).toBe(true);
  });
});

describe('SDMX source: structure changes', () => {
  const withNewAttribute = (): string => {
    const message = JSON.parse(STRUCTURE_JSON) as { data: { dataStructures: { dataStructureComponents: { attributeList: { attributes: unknown[] } } }[] } };
    message.data.dataStructures[0]!.dataStructureComponents.attributeList.attributes.push({ id: 'NEW_ATTR', attributeRelationship: { primaryMeasure: 'OBS_VALUE' } });
    return JSON.stringify(message);
  };

  it('fails the stream, saying what changed and how to rebuild, when the structure no longer matches the tables', async () => {
    serveData(csvAnswer(BASE));
    await sync();
    const before = await cursorOf();
    serveStructure(withNewAttribute());
    const failure = await syncFails();
    expect(failure.status).toBe('failed');
    expect(failure.message).toContain(
      'dataflow OECD:DF_TEST_DELETE(1.0): the data structure changed since the last sync (attributes added: NEW_ATTR attached at observation); run `dataspace-sync reset sdmx:job:OECD:DF_TEST_DELETE(1.0):data` to rebuild the tables',
    );
    expect(await cursorOf()).toEqual(before);
    expect(dataRequests()).toHaveLength(1);
  });

  it('fails when the CSV brings a component that, on a second look, the new structure has', async () => {
    serveData(csvAnswer(BASE));
    await sync();
    let structureCalls = 0;
    nsi.route(STRUCTURE_PATH, (_request, res) => {
      structureCalls += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(structureCalls === 1 ? STRUCTURE_JSON : withNewAttribute());
    });
    serveData(csvAnswer(HEADER.replace('\n', ',NEW_ATTR\n') + 'dataflow,OECD:DF_TEST_DELETE(1.0),R,A,A,2020,1,,,,,n\n'));
    const failure = await syncFails();
    expect(failure.message).toContain('the data structure changed while syncing (attributes added: NEW_ATTR attached at observation)');
    expect(failure.message).toContain('dataspace-sync reset');
    expect(await obs()).toHaveLength(4);
  });

  it('rebuilds the tables with the new structure after a reset', async () => {
    serveData(csvAnswer(BASE));
    await sync();
    serveStructure(withNewAttribute());
    await syncFails();
    const state = await store.readState(source().id);
    await store.transaction((tx) => tx.writeState({ ...state!, cursor: null }));
    serveData(csvAnswer(HEADER.replace('\n', ',NEW_ATTR\n') + 'dataflow,OECD:DF_TEST_DELETE(1.0),R,A,A,2020,1,,,,,n\n'));
    await sync();
    expect(await store.readTable('td_obs')).toEqual([{ DIM_1: 'A', DIM_2: 'A', TIME_PERIOD: '2020', OBS_VALUE: '1', OBS_ATTR: null, NEW_ATTR: 'n' }]);
  });
});

describe('SDMX source: bad answers end the run without advancing the cursor or changing the mirror', () => {
  const LABEL = 'dataflow OECD:DF_TEST_DELETE(1.0)';
  const mirror = async () => ({
    obs: await store.readTable('td_obs'),
    series: await store.readTable('td_attr_series'),
    groups: await store.readTable('td_attr_gr'),
    dataset: await store.readTable('td_dataset_attr'),
  });

  async function afterBase(): Promise<unknown> {
    serveData(csvAnswer(BASE));
    await sync();
    return cursorOf();
  }

  /** Sends `body` up to `cutAt` characters (ASCII), then closes the connection: the rest never comes. */
  const cutAnswer = (body: string, cutAt: number) => (_request: RecordedRequest, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': CSV_TYPE, 'content-length': String(body.length) });
    res.write(body.slice(0, cutAt), () => res.socket?.destroySoon());
  };

  /** How far the source says the answer got before it broke off: the line of the last whole row, and the rows read. */
  function brokeOffAt(failure: StreamRunError): { line: number; rows: number } {
    const match = /: the answer broke off (?:after the row on line (\d+)|before its first row) \((\d+) rows read\): the body of http:\/\/127\.0\.0\.1:\d+\/rest\/data\/OECD,DF_TEST_DELETE,1\.0\/all\S* is incomplete or corrupt/.exec(failure.message);
    expect(failure.message.startsWith(`stream ${source().id}: ${LABEL}: the answer broke off`), failure.message).toBe(true);
    expect(match, failure.message).not.toBeNull();
    const rows = Number(match?.[2]);
    const line = match?.[1] === undefined ? 1 : Number(match[1]);
    // One line per row here, after the header: the line named is the last row read.
    expect(line).toBe(rows + 1);
    return { line, rows };
  }

  const manyRows = (count: number, action: string): string[] => Array.from({ length: count }, (_, i) => `${action},Z,Z,P${i},${i},,,,`);

  it('an HTML page with status 200', async () => {
    const before = await afterBase();
    const content = await mirror();
    serveData((_request, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!DOCTYPE html><html><body>Maintenance</body></html>'));
    const failure = await syncFails();
    expect(failure.message).toContain(`${LABEL}: expected SDMX-CSV from`);
    expect(failure.message).toContain('got text/html');
    expect(await cursorOf()).toEqual(before);
    expect(await mirror()).toEqual(content);
  });

  it('an HTML page labelled as CSV', async () => {
    const before = await afterBase();
    const content = await mirror();
    serveData((_request, res) => res.writeHead(200, { 'content-type': CSV_TYPE }).end('<html><body>Sign in</body></html>'));
    const failure = await syncFails();
    expect(failure.message).toContain(`${LABEL}: the response is not SDMX-CSV`);
    expect(await cursorOf()).toEqual(before);
    expect(await mirror()).toEqual(content);
  });

  it('a body cut in the middle of a row names the dataflow and the last row read', async () => {
    const before = await afterBase();
    const content = await mirror();
    const body = csv('D,,,,,,,,', ...manyRows(2400, 'R'));
    serveData(cutAnswer(body, body.indexOf('P2000,') + 3));
    const failure = await syncFails(source({ batchSize: 500 }));
    expect(failure.status).toBe('backoff');
    expect(brokeOffAt(failure).rows).toBeLessThanOrEqual(2001);
    expect(await cursorOf()).toEqual(before);
    expect(await mirror()).toEqual(content);
  });

  it('a 500 mid-stream (an error text after some rows, then the connection drops) names the dataflow and a line', async () => {
    const before = await afterBase();
    const content = await mirror();
    serveData((_request, res) => {
      res.writeHead(200, { 'content-type': CSV_TYPE });
      res.write(csv('D,,,,,,,,', ...manyRows(50, 'R')) + 'Error: 500 Internal Server Error - the query failed after 50 rows\n', () => res.socket?.destroySoon());
    });
    const failure = await syncFails();
    // Whichever the client notices first, the error text as a (short) row or the dropped connection, it says where.
    expect(failure.message).toMatch(
      new RegExp(`^stream \\S+: ${LABEL.replace(/[()]/g, '\\$&')}: (line 53: the row has 1 cells but the header has 11|the answer broke off (after the row on line \\d+|before its first row) \\(\\d+ rows read\\))`),
    );
    expect(await cursorOf()).toEqual(before);
    expect(await mirror()).toEqual(content);
  });

  // The runner holds up to 20,000 rows before it opens the transaction: these answers break after
  // more than that, once tables were replaced and rows written inside it.
  it('a full load that breaks after more than 20,000 rows leaves the previous tables and the reset cursor as they were', async () => {
    await afterBase();
    const content = await mirror();
    const state = await store.readState(source().id);
    await store.transaction((tx) => tx.writeState({ ...state!, cursor: null }));
    const body = csv(...manyRows(30_000, 'I'));
    serveData(cutAnswer(body, body.indexOf(',P28000,') + 5));
    const failure = await syncFails();
    expect(brokeOffAt(failure).rows).toBeGreaterThan(20_000);
    expect(dataRequests().at(-1)?.query.has('updatedAfter')).toBe(false);
    expect(await cursorOf()).toBeNull();
    expect(await mirror()).toEqual(content);
  });

  it('an incremental answer that breaks after more than 20,000 rows leaves mirror and cursor as they were', async () => {
    const before = await afterBase();
    const content = await mirror();
    const body = csv('D,,,,,,,,', ...manyRows(30_000, 'R'));
    serveData(cutAnswer(body, body.indexOf(',P28000,') + 5));
    const failure = await syncFails();
    expect(brokeOffAt(failure).rows).toBeGreaterThan(20_000);
    expect(dataRequests().at(-1)?.query.has('updatedAfter')).toBe(true);
    expect(await cursorOf()).toEqual(before);
    expect(await mirror()).toEqual(content);
  });

  it('a 500 answer', async () => {
    const before = await afterBase();
    serveData((_request, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal error'));
    const failure = await syncFails();
    expect(failure.message).toContain('HTTP 500');
    expect(await cursorOf()).toEqual(before);
  });

  it.each([
    ['an unknown action', csv('R,A,A,2020,7,,,,', 'X,A,A,2021,8,,,,'), `${LABEL}: line 3 (${LABEL}): unknown action "X"`],
    ['too many cells', csv('R,A,A,2020,7,,,,', 'R,A,A,2021,8,,,,,extra'), `${LABEL}: line 3 (OECD:DF_TEST_DELETE(1.0)): the row has 12 cells but the header has 11`],
  ])('a row with %s', async (_name, body, message) => {
    const before = await afterBase();
    const content = await mirror();
    serveData(csvAnswer(body));
    const failure = await syncFails();
    expect(failure.message).toContain(message);
    expect(await cursorOf()).toEqual(before);
    expect(await mirror()).toEqual(content);
  });

  it('a 404 that is not NoRecordsFound', async () => {
    serveData((_request, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('Dataflow not found'));
    const failure = await syncFails();
    expect(failure.message).toContain(`${LABEL}: HTTP 404 from`);
    expect(await cursorOf()).toBeNull();
  });
});

describe('SDMX source: referential metadata', () => {
  it('asks the v2 URL with attributes=msd&measures=none and mirrors the metadata into {p}_meta', async () => {
    const path = '/v2/data/dataflow/OECD/DF_TEST_DELETE/1.0/*';
    serveData((request, res) => {
      expect(request.query.get('attributes')).toBe('msd');
      expect(request.query.get('measures')).toBe('none');
      const body =
        request.query.has('updatedAfter')
          ? 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,SOURCE,CONTACT.NAME,CONTACT.EMAIL\ndataflow,OECD:DF_TEST_DELETE(1.0),D,~,B,~,,,\n'
          : 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,SOURCE,CONTACT.NAME,CONTACT.EMAIL\n' +
            'dataflow,OECD:DF_TEST_DELETE(1.0),I,~,~,~,Whole flow,Ann,\n' +
            'dataflow,OECD:DF_TEST_DELETE(1.0),I,~,B,~,About B,,b@example.org\n';
      res.writeHead(200, { 'content-type': CSV_TYPE }).end(body);
    }, path);
    const meta = source({ mode: 'metadata', id: 'sdmx:job:OECD:DF_TEST_DELETE(1.0):meta' });
    await sync(meta);
    expect(await store.readTable('td_meta')).toEqual([
      { DIM_1: '', DIM_2: '', TIME_PERIOD: '', SOURCE: 'Whole flow', CONTACT: null, CONTACT_NAME: 'Ann', CONTACT_EMAIL: null },
      { DIM_1: '', DIM_2: 'B', TIME_PERIOD: '', SOURCE: 'About B', CONTACT: null, CONTACT_NAME: null, CONTACT_EMAIL: 'b@example.org' },
    ]);
    await sync(meta);
    expect(await store.readTable('td_meta')).toEqual([
      { DIM_1: '', DIM_2: '', TIME_PERIOD: '', SOURCE: 'Whole flow', CONTACT: null, CONTACT_NAME: 'Ann', CONTACT_EMAIL: null },
    ]);
    expect(dataRequests().map((request) => request.rawUrl.split('?')[1]?.split('&').slice(0, 2).join('&'))).toEqual([
      'attributes=msd&measures=none',
      'attributes=msd&measures=none',
    ]);
  });
});

describe('the sdmx job kind', () => {
  it('expands a job into one data stream per dataflow, and a metadata stream each with metadata: true', async () => {
    const options = sdmxOptions.parse({
      endpoint: 'https://nsi.example.org/rest',
      dataflows: ['OECD.CFE:DF_TOURISM(2.0)', { ref: 'OECD.SDD.TPS:DSD_G20_PRICES@DF_G20_PRICES(1.0)', prefix: 'g20' }],
      metadata: true,
    });
    expect(options).toMatchObject({ api: 'v1', overlap: '5m', structureFormat: 'auto' });
    const streams = await sdmxKind.expand({ id: 'oecd', kind: 'sdmx' }, options, { http, log: logged.log, signal: new AbortController().signal });
    expect(streams.map((stream) => stream.id)).toEqual([
      'sdmx:oecd:OECD.CFE:DF_TOURISM(2.0):data',
      'sdmx:oecd:OECD.CFE:DF_TOURISM(2.0):meta',
      'sdmx:oecd:OECD.SDD.TPS:DSD_G20_PRICES@DF_G20_PRICES(1.0):data',
      'sdmx:oecd:OECD.SDD.TPS:DSD_G20_PRICES@DF_G20_PRICES(1.0):meta',
    ]);
    expect(streams.every((stream) => stream.kind === 'sdmx' && stream.jobId === 'oecd')).toBe(true);
  });

  it('says "expected AGENCY:ID(VERSION)" for a bad dataflow reference, at its path', () => {
    const message = 'expected AGENCY:ID(VERSION) with an exact version, e.g. OECD.CFE:DF_TOURISM(2.0); version wildcards (+, ~, *) and "latest" cannot be mirrored';
    const result = sdmxOptions.safeParse({ endpoint: 'https://nsi.example.org/rest', dataflows: ['OECD.CFE:DF_TOURISM(2.0)', 'DF_TOURISM', { ref: 'A:B' }] });
    expect(result.success).toBe(false);
    const issues = result.error?.issues.map((issue) => [issue.path.join('.'), issue.message]);
    expect(issues).toEqual([
      ['dataflows.1', message],
      ['dataflows.2.ref', message],
    ]);
  });

  it('refuses version wildcards and "latest", which no structure query can pin, and accepts exact SDMX 2.1 and 3.0 versions', () => {
    const wildcards = ['A:DF(+)', 'A:DF(~)', 'A:DF(*)', 'A:DF(1.+)', 'A:DF(2+.3.1)', 'A:DF(latest)'];
    const result = sdmxOptions.safeParse({ endpoint: 'https://nsi.example.org/rest', dataflows: [...wildcards.slice(0, 5), { ref: wildcards[5] }] });
    expect(result.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual(
      wildcards.map((_, index) => [
        index === 5 ? 'dataflows.5.ref' : `dataflows.${index}`,
        'expected AGENCY:ID(VERSION) with an exact version, e.g. OECD.CFE:DF_TOURISM(2.0); version wildcards (+, ~, *) and "latest" cannot be mirrored',
      ]),
    );
    expect(() => parseDataflowRef('A:DF(+)')).toThrow('"A:DF(+)": expected AGENCY:ID(VERSION) with an exact version');
    const exact = sdmxOptions.parse({ endpoint: 'https://nsi.example.org/rest', dataflows: ['A:DF(1.0)', 'A.B:DF@X(2.1.0)', 'A:DF(1.0.0-draft)'] });
    expect(exact.dataflows.map((entry) => parseDataflowRef(entry as string))).toEqual([
      { agency: 'A', id: 'DF', version: '1.0' },
      { agency: 'A.B', id: 'DF@X', version: '2.1.0' },
      { agency: 'A', id: 'DF', version: '1.0.0-draft' },
    ]);
  });

  it('refuses two dataflows that would write the same tables', async () => {
    const options = sdmxOptions.parse({ endpoint: 'https://nsi.example.org/rest', dataflows: ['A:DF_X(1.0)', 'B:DF_X(1.0)'] });
    await expect(sdmxKind.expand({ id: 'j', kind: 'sdmx' }, options, { http, log: logged.log, signal: new AbortController().signal })).rejects.toThrow(
      'job j: dataflow B:DF_X(1.0) would write table df_x, which dataflow A:DF_X(1.0) writes too; give one of them another table prefix',
    );
  });

  it('refuses, with the config, dataflows of different jobs (enabled or not) that would write the same tables', () => {
    const endpoint = 'https://nsi.example.org/rest';
    const config = {
      jobs: [
        { id: 'oecd', kind: 'sdmx', endpoint, dataflows: ['OECD:DF_X(1.0)', { ref: 'OECD:DF_Y(1.0)', prefix: 'shared' }] },
        { id: 'imf', kind: 'sdmx', endpoint, enabled: false, dataflows: ['IMF:DF_Z(1.0)', 'IMF:DF_X(2.0)'] },
        { id: 'ecb', kind: 'sdmx', endpoint, dataflows: [{ ref: 'ECB:DF_W(1.0)', prefix: 'SHARED' }, { ref: 'ECB:DF_X(1.0)', prefix: 'ecb_x' }] },
        { id: 'broken', kind: 'sdmx', endpoint, dataflows: ['not a ref'] },
      ],
    };
    const problems = (() => {
      try {
        parseConfig(JSON.stringify(config), 'sync.config.json', builtInKinds, {});
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    })();
    expect(problems).toEqual([
      expect.stringMatching(/^jobs\[3\]\.dataflows\[0\]: expected AGENCY:ID\(VERSION\)/),
      'jobs[1].dataflows[1]: dataflow IMF:DF_X(2.0) would write table df_x, which dataflow OECD:DF_X(1.0) of job oecd (jobs[0].dataflows[0]) writes too; give one of them another table prefix',
      'jobs[2].dataflows[0]: dataflow ECB:DF_W(1.0) would write table SHARED, which dataflow OECD:DF_Y(1.0) of job oecd (jobs[0].dataflows[1]) writes too; give one of them another table prefix',
    ]);
  });
});
