import { Agent, type Dispatcher } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StreamSource } from '../../../src/core/source.js';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { runStream, StreamRunError } from '../../../src/runner/run-stream.js';
import { startOdsSimulator, type OdsSimulator } from '../../../src/simulators/ods/ods-simulator.js';
import { odsCatalogKind, odsCatalogOptions } from '../../../src/sources/ods/catalog-kind.js';
import { odsRecordsKind, odsRecordsOptions } from '../../../src/sources/ods/records-kind.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from '../../helpers/silent-log.js';
import { tempSqliteStore } from '../../helpers/stores.js';
import { treeRecord, treesDataset } from '../../simulators/ods/test-datasets.js';

const KEY = 'ods-k3y-7c1e5a90';

/** What the client put on the wire: the request target and its Authorization header. */
interface Sent {
  readonly path: string;
  readonly authorization: string | undefined;
}

function authorizationOf(headers: Dispatcher.DispatchOptions['headers']): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  const pairs: [string, unknown][] = Array.isArray(headers)
    ? Array.from({ length: headers.length / 2 }, (_, index) => [String(headers[2 * index]), headers[2 * index + 1]])
    : Symbol.iterator in headers
      ? [...(headers as Iterable<[string, unknown]>)]
      : Object.entries(headers);
  const found = pairs.find(([name]) => name.toLowerCase() === 'authorization');
  return found === undefined ? undefined : String(found[1]);
}

describe('the ODS API key: sent as Authorization: Apikey, never in a URL, a log line, an error or the sync state', () => {
  let sim: OdsSimulator;
  let store: SqliteStore;
  let cleanup: () => Promise<void>;
  let http: UndiciHttpClient;
  let sent: Sent[];
  const memory = memoryLogger('debug');

  beforeEach(async () => {
    sim = await startOdsSimulator({ apiKey: KEY, datasets: [treesDataset(30)] });
    ({ store, cleanup } = await tempSqliteStore());
    sent = [];
    memory.lines.length = 0;
    // Sees each request as the client hands it to undici, headers included (the simulator's log keeps no headers).
    const dispatcher = new Agent().compose((dispatch) => (options, handler) => {
      sent.push({ path: options.path, authorization: authorizationOf(options.headers) });
      return dispatch(options, handler);
    });
    http = createHttpClient({ dispatcher, maxRetries: 1, retryBaseDelayMs: 1, log: memory.log });
  });

  afterEach(async () => {
    await http.close();
    await cleanup();
    await sim.close();
  });

  /** The job's streams, expanded from its options as the daemon does (the records found by a catalog where). */
  const ctx = () => ({ http, log: memory.log, signal: new AbortController().signal });
  const catalogOf = async (apiKey: string) =>
    (await odsCatalogKind.expand({ id: 'city', kind: 'ods-catalog' }, odsCatalogOptions.parse({ portal: sim.url, apiKey }), ctx()))[0] as StreamSource;
  const recordsOf = async (apiKey: string) =>
    (await odsRecordsKind.expand({ id: 'city', kind: 'ods-records' }, odsRecordsOptions.parse({ portal: sim.url, apiKey, where: 'has_records = true' }), ctx()))[0] as StreamSource;

  const sync = (source: StreamSource) => runStream({ store, source, http, log: memory.log, signal: new AbortController().signal });
  const fails = (source: StreamSource) => sync(source).then(() => expect.unreachable('the run should fail'), (error: unknown) => error as StreamRunError);

  it('a private portal is mirrored with the key in the Authorization header of every request and in no URL or log line', async () => {
    const trees = await recordsOf(KEY);
    expect(trees.id).toBe('ods:city:public-trees');
    await sync(await catalogOf(KEY));
    await sync(trees);
    expect(await store.readTable('city_public_trees')).toHaveLength(30);
    expect(sent.length).toBeGreaterThanOrEqual(5);
    expect(new Set(sent.map((request) => request.authorization))).toEqual(new Set([`Apikey ${KEY}`]));
    expect(sent.filter((request) => request.path.includes(KEY))).toEqual([]);
    expect(sim.requests.every((request) => request.status === 200 && !request.query.has('apikey'))).toBe(true);
    // The run and every HTTP response were logged (debug), and none of it shows the key.
    expect(memory.lines.filter((line) => line.includes('"HTTP response"')).length).toBe(sent.length);
    expect(memory.lines.filter((line) => line.includes(KEY))).toEqual([]);
  });

  it('failures with the key (a 500 retried, then given up) and with a wrong key (401) never show it', async () => {
    const trees = await recordsOf(KEY);
    await sync(trees);
    sim.portal.changeRecords('public-trees', { insert: [treeRecord(500)] });
    sim.injectFault({ type: 'status', status: 500 }, { on: 'export', times: 2 });
    const failed = await fails(trees);
    expect(failed.message).toMatch(/dataset public-trees: HTTP 500/);
    expect(memory.lines.some((line) => line.includes('retrying'))).toBe(true);

    const refused = await fails(await catalogOf('not-the-key-4d2b'));
    expect(refused.message).toMatch(/the portal refused access \(401.*\): check that the API key is valid/);

    const states = await Promise.all(['ods:city:public-trees', 'ods:city:catalog'].map((id) => store.readState(id)));
    const shown = [failed.message, refused.message, ...states.map((state) => JSON.stringify(state)), ...memory.lines].join('\n');
    for (const secret of [KEY, 'not-the-key-4d2b']) expect(shown).not.toContain(secret);
  });
});
