import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, resolveLimits, type GivenLimits } from '../../../src/core/limits.js';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { StreamRunError } from '../../../src/runner/run-stream.js';
import { MAX_ITEM_NESTING } from '../../../src/sources/rpde/page-scan.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../../src/store/store.js';
import { enginesUnderTest, tempSqliteStore } from '../../helpers/stores.js';
import { HandWrittenFeed } from './hand-written-feed.js';
import { conformanceCounts, cursorOf, feedSource, harvest, mirrorRows, TestClock } from './harness.js';

const STREAM = 'rpde:test:session-series';
const TABLE = 'test_session_series_items';
const MiB = 1024 * 1024;
const item = (id: number, data: unknown = { name: `s${id}` }) => ({ id: String(id), state: 'updated', kind: 'SessionSeries', modified: id, data });
const raise = (key: string): string => `If the remote is right, raise "limits": {"${key}": ...} in the job or in defaults.limits`;

describe('RPDE pages past a limit end the run naming it; nothing of the page is applied', () => {
  let feed: HandWrittenFeed;
  let store: SqliteStore;
  let cleanup: () => Promise<void>;
  let http: UndiciHttpClient;
  const clock = new TestClock();

  beforeEach(async () => {
    feed = await HandWrittenFeed.start();
    ({ store, cleanup } = await tempSqliteStore());
    http = createHttpClient({ maxRetries: 0 });
  });
  afterEach(async () => {
    await http.close();
    await feed.close();
    await cleanup();
  });

  /** Harvests a first page of two items, then has the next page answered by `second`; returns the failure. */
  async function failingSecondPage(second: { body: string | Buffer; headers?: Record<string, string> }, limits: GivenLimits): Promise<StreamRunError> {
    const [, secondTarget] = feed.serveChain([[item(1), item(2)], [item(3)]]);
    feed.responses[secondTarget as string] = { body: second.body, ...(second.headers ? { headers: second.headers } : {}) };
    const source = feedSource(`${feed.origin}/feed`, clock, { limits: resolveLimits(DEFAULT_LIMITS, limits) });
    const failure = await harvest(store, source, http).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StreamRunError);
    // The first page was committed with its next; the refused one added nothing.
    expect([...(await mirrorRows(store, TABLE)).keys()]).toEqual(['1', '2']);
    expect((await cursorOf(store, STREAM))?.['next']).toBe(`${feed.origin}${secondTarget}`);
    return failure as StreamRunError;
  }

  it('itemsPerPage: a page of 1,000,000 tiny items is refused before it is parsed', async () => {
    const body = `{"next":"${feed.origin}/feed?afterTimestamp=9","license":"x","items":[${'{"id":"1","state":"deleted","modified":1},'.repeat(999_999)}{"id":"1","state":"deleted","modified":1}]}`;
    const failure = await failingSecondPage({ body }, {});
    expect(failure.message).toMatch(/^stream rpde:test:session-series: page http:\/\/127\.0\.0\.1:\d+\/feed\?\S+ \(50,000 items read, more follow\) exceeds limits\.itemsPerPage \(50,000 items\)/);
    expect(failure.message).toContain(raise('itemsPerPage'));
  });

  it('itemsPerPage: the operator\'s own value counts', async () => {
    const items = Array.from({ length: 12 }, (_, i) => item(10 + i));
    const failure = await failingSecondPage({ body: JSON.stringify({ next: `${feed.origin}/feed?x=1`, license: 'x', items }) }, { itemsPerPage: 10 });
    expect(failure.message).toContain('exceeds limits.itemsPerPage (10 items)');
  });

  it('documentBytes: a page larger than it', async () => {
    const failure = await failingSecondPage({ body: JSON.stringify({ next: `${feed.origin}/feed?x=1`, license: 'x', items: [item(5, { text: 'x'.repeat(2 * MiB) })] }) }, { documentBytes: MiB });
    expect(failure.message).toMatch(/page http:\/\/\S+ exceeds limits\.documentBytes \(1 MiB\)/);
  });

  it('decodedBytes: a gzip bomb of a page', async () => {
    const bomb = gzipSync(JSON.stringify({ next: `${feed.origin}/feed?x=1`, license: 'x', items: [item(5, { text: ' '.repeat(16 * MiB) })] }));
    const failure = await failingSecondPage({ body: bomb, headers: { 'content-encoding': 'gzip' } }, { decodedBytes: 2 * MiB });
    expect(failure.message).toMatch(/\(decompressed\) exceeds limits\.decodedBytes \(2 MiB\)/);
  });

  it('responseBytes: a page larger than it as received', async () => {
    const failure = await failingSecondPage({ body: JSON.stringify({ next: `${feed.origin}/feed?x=1`, license: 'x', items: [item(5, { text: 'y'.repeat(MiB) })] }) }, { responseBytes: 512 * 1024 });
    expect(failure.message).toMatch(/the answer of http:\/\/\S+ exceeds limits\.responseBytes \(512 KiB\)/);
  });
});

const engines = await enginesUnderTest();

describe.each(engines)('an RPDE item nested deeper than the stores can all hold ($engine)', (engine) => {
  let feed: HandWrittenFeed;
  let opened: Awaited<ReturnType<(typeof engines)[number]['open']>>;
  let store: Store;
  let http: UndiciHttpClient;
  const clock = new TestClock();

  beforeAll(async () => {
    feed = await HandWrittenFeed.start();
    opened = await engine.open();
    store = opened.store;
    http = createHttpClient({ maxRetries: 0 });
  });
  afterAll(async () => {
    await http.close();
    await feed.close();
    await opened.cleanup();
  });

  it('is skipped and reported (C38), the rest of its page applied and the feed kept moving', async () => {
    // Written as text: JSON.stringify recurses and cannot write 10,000 levels.
    const deep = (id: number, levels: number): string => `{"id":"${id}","state":"updated","kind":"SessionSeries","modified":${id},"data":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`;
    const [, second] = feed.serveChain([[item(1)], [item(5)]]);
    // The item object is one level, its data the rest: MAX_ITEM_NESTING in all passes, one more does not.
    const items = [JSON.stringify(item(1)), deep(2, MAX_ITEM_NESTING - 1), deep(3, MAX_ITEM_NESTING), deep(4, 10_000)];
    feed.responses['/feed'] = { body: `{"next":"${feed.origin}${second}","license":"x","items":[${items.join(',')}]}` };
    const source = feedSource(`${feed.origin}/feed`, clock);
    await harvest(store, source, http);
    expect([...(await mirrorRows(store, TABLE)).keys()].sort()).toEqual(['1', '2', '5']);
    expect(JSON.parse((await store.readTable(TABLE)).find((row) => row.id === '2')?.data as string)).toBeTypeOf('object');
    expect((await conformanceCounts(store, STREAM))['C38']).toBe(2);
    expect((await cursorOf(store, STREAM))?.['atEnd']).toBe(true);
  });
});
