import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { StreamRunError } from '../../../src/runner/run-stream.js';
import { startRpdePublisher, type RpdePublisher, type RpdePublisherOptions } from '../../../src/simulators/rpde/publisher.js';
import { RpdeFeedError } from '../../../src/sources/rpde/feed-error.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { tempSqliteStore } from '../../helpers/stores.js';
import { deleted, HandWrittenFeed, updated } from './hand-written-feed.js';
import { conformanceCounts, cursorOf, expectMirrorOf, feedSource, harvest, mirrorRows, TestClock } from './harness.js';

const TABLE = 'test_session_series_items';
const STREAM = 'rpde:test:session-series';
const laterPages = { match: (url: URL) => url.search !== '' };

let store: SqliteStore;
let cleanup: () => Promise<void>;
let http: UndiciHttpClient;
let publisher: RpdePublisher | undefined;
let clock: TestClock;

beforeEach(async () => {
  ({ store, cleanup } = await tempSqliteStore());
  http = createHttpClient({ maxRetries: 0 });
  clock = new TestClock();
});

afterEach(async () => {
  await publisher?.close();
  publisher = undefined;
  await http.close();
  await cleanup();
});

async function publish(options: RpdePublisherOptions = {}): Promise<RpdePublisher> {
  publisher = await startRpdePublisher({ items: 300, pageSize: 100, ...options });
  return publisher;
}

async function failedRun(promise: Promise<unknown>): Promise<StreamRunError> {
  const error = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(StreamRunError);
  return error as StreamRunError;
}

describe('hostile and out-of-order RPDE feeds', () => {
  it('a regressing modified (a stale copy of an item later in the feed) is reported once (C26, C22) and never applied', async () => {
    const pub = await publish();
    pub.injectFault({ type: 'regressingModified' }, laterPages);
    await harvest(store, feedSource(pub.url, clock), http);
    expect(pub.requests.some((request) => request.fault === 'regressingModified')).toBe(true);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C26: 1, C22: 1 });
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it('a stale copy arriving in a later run does not overwrite the newer stored version and is reported against it (C26)', async () => {
    const pub = await publish();
    const source = feedSource(pub.url, clock);
    await harvest(store, source, http);
    const ids = [...pub.feed.liveItems().keys()];
    pub.feed.upsertMany(ids.slice(100, 110).map((id) => ({ id })));
    pub.injectFault({ type: 'regressingModified', id: ids[0] as string });
    clock.advance(10_000);
    await harvest(store, source, http);
    expect(pub.requests.some((request) => request.fault === 'regressingModified')).toBe(true);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C22: 1, C26: 1 });
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it('a duplicate id within a page is reported (C24) and stored once', async () => {
    const pub = await publish();
    pub.injectFault({ type: 'duplicateId' }, laterPages);
    await harvest(store, feedSource(pub.url, clock), http);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C24: 1 });
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it('an afterId without afterTimestamp is reported (C19), stops the run at the cycle it causes (C8:cycle), and the next run converges', async () => {
    const pub = await publish();
    pub.injectFault({ type: 'afterIdOnly' }, laterPages);
    const source = feedSource(pub.url, clock);
    // Without afterTimestamp the publisher starts again from the beginning: the pages already read
    // come back under another URL, and their next leads to one read in this run.
    const failure = await failedRun(harvest(store, source, http));
    expect(failure.cause).toBeInstanceOf(RpdeFeedError);
    expect(failure.message).toMatch(/cycle/);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C19: 1, 'C8:cycle': 1 });
    clock.advance(10_000);
    await harvest(store, source, http);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C19: 1, 'C8:cycle': 1 });
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it('a self-loop with items is reported (C8) and not spun on; the page is kept and the next run goes on', async () => {
    const pub = await publish();
    pub.injectFault({ type: 'selfLoop' }, laterPages);
    const source = feedSource(pub.url, clock);
    const failure = await failedRun(harvest(store, source, http));
    expect(failure.cause).toBeInstanceOf(RpdeFeedError);
    expect(failure.status).toBe('backoff');
    // The looping page was read once, not again and again.
    expect(pub.requests.filter((request) => request.fault === 'selfLoop')).toHaveLength(1);
    expect(pub.requests).toHaveLength(2);
    expect((await mirrorRows(store, TABLE)).size).toBe(200);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C8: 1 });
    expect((await cursorOf(store, STREAM))?.['next']).toBe(pub.requests[1]?.url);

    await harvest(store, source, http);
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it('a next to another origin is refused (C7) unless allowed, and no request goes there', async () => {
    const pub = await publish();
    pub.injectFault({ type: 'foreignNext' }, laterPages);
    const source = feedSource(pub.url, clock);
    const failure = await failedRun(harvest(store, source, http));
    expect(failure.message).toMatch(/not in allowedOrigins/);
    expect(pub.requests.every((request) => request.host === new URL(pub.origin).host)).toBe(true);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ 'C7:refused': 1 });
    await harvest(store, source, http);
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it('a next to an allowed other origin is followed and still reported (C7)', async () => {
    const pub = await publish();
    const foreign = `http://localhost:${new URL(pub.origin).port}`;
    pub.injectFault({ type: 'foreignNext' }, laterPages);
    await harvest(store, feedSource(pub.url, clock, { allowedOrigins: [foreign] }), http);
    expect(pub.requests.some((request) => request.host === new URL(foreign).host)).toBe(true);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C7: 1 });
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it('a relative next is resolved against the page URL, followed and reported (C6)', async () => {
    const pub = await publish();
    pub.injectFault({ type: 'relativeNext' }, laterPages);
    await harvest(store, feedSource(pub.url, clock), http);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C6: 1 });
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });
});

describe('RPDE paging edge cases on a hand-written feed', () => {
  let feed: HandWrittenFeed;
  let origin: string;

  beforeEach(async () => {
    feed = await HandWrittenFeed.start();
    origin = feed.origin;
  });

  afterEach(() => feed.close());

  const item = (id: string, modified: number) => updated(id, modified);

  it('detects a cycle of pages within a run (C8) instead of spinning', async () => {
    feed.pages = {
      '/feed': { next: `${origin}/feed?afterTimestamp=2&afterId=b`, items: [item('a', 1), item('b', 2)], license: 'x' },
      '/feed?afterTimestamp=2&afterId=b': { next: `${origin}/feed`, items: [item('c', 3)], license: 'x' },
    };
    const failure = await failedRun(harvest(store, feedSource(`${origin}/feed`, clock), http));
    expect(failure.message).toMatch(/cycle/);
    expect(feed.served).toEqual(['/feed', '/feed?afterTimestamp=2&afterId=b']);
    expect([...(await mirrorRows(store, TABLE)).keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ 'C8:cycle': 1 });
  });

  it('takes an empty page whose next is its own URL spelt differently as the last page (C9)', async () => {
    feed.pages = {
      '/feed': { next: `${origin}/feed?afterTimestamp=2&afterId=%7Bb%7D`, items: [item('a', 1), item('{b}', 2)], license: 'x' },
      '/feed?afterTimestamp=2&afterId=%7Bb%7D': { next: `${origin}/feed?afterId={b}&afterTimestamp=2`, items: [], license: 'x' },
    };
    const source = feedSource(`${origin}/feed`, clock);
    await harvest(store, source, http);
    expect(feed.served).toHaveLength(2);
    expect(await cursorOf(store, STREAM)).toMatchObject({ atEnd: true, next: `${origin}/feed?afterId={b}&afterTimestamp=2` });
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C9: 1, C29: 1 });
  });

  it('reads the spec example, multiple-items and last-page fixtures, served as they are, as one feed: ids verbatim, tombstones', async () => {
    // The fixtures link to each other under www.example.com: only that origin is replaced.
    const served = (name: string) => ({
      headers: { 'cache-control': name === 'last-page.json' ? 'public, max-age=8' : 'public, max-age=3600' },
      body: readFileSync(new URL(`../../fixtures/rpde/${name}`, import.meta.url), 'utf8').replaceAll('http://www.example.com', origin),
    });
    const second = '/api/rpde/sessions?afterTimestamp=1453931925&afterId=%7Bd97f73fb-4718-48ee-a6a9-9c7d717ebd85%7D';
    feed.responses = {
      '/api/rpde/sessions': served('rpde-1.0-spec-example-response.json'),
      [second]: served('multiple-items.json'),
      '/last': served('last-page.json'),
    };
    await harvest(store, feedSource(`${origin}/api/rpde/sessions`, clock), http);

    expect(feed.served).toEqual(['/api/rpde/sessions', second, '/last']);
    expect(await cursorOf(store, STREAM)).toMatchObject({ atEnd: true, next: `${origin}/last` });
    const rows = await mirrorRows(store, TABLE);
    expect([...rows.keys()].sort()).toEqual([
      'C3CLAQB20000714',
      'C5CLBD07000317',
      '{c15814e5-8931-470c-8a16-ef45afedaece}',
      '{d97f73fb-4718-48ee-a6a9-9c7d717ebd85}',
    ]);
    expect(rows.get('{c15814e5-8931-470c-8a16-ef45afedaece}')).toMatchObject({ state: 'updated', modified: '1453931101', data: { identifier: 'session-01jz93i3k1p3' } });
    expect(rows.get('{d97f73fb-4718-48ee-a6a9-9c7d717ebd85}')).toMatchObject({ state: 'deleted', data: null });
    expect(rows.get('C3CLAQB20000714')).toMatchObject({ state: 'deleted', modified: '1506335263039' });
    expect(rows.get('C5CLBD07000317')).toMatchObject({ state: 'updated', data: { name: 'Bodyattack® Fri 7am' } });
    // multiple-items.json pages on to another path (C7) after a short page (C28); nothing else is wrong.
    expect(await conformanceCounts(store, STREAM)).toEqual({ C7: 1, C28: 1 });
  });

  it('reports a switch from string to integer modified (C26:form) and keeps the versions stored with strings', async () => {
    const first = '/feed?afterTimestamp=2026-01-02T00%3A00%3A00Z&afterId=b';
    feed.pages = {
      '/feed': { next: `${origin}${first}`, items: [updated('a', '2026-01-01T00:00:00Z'), updated('b', '2026-01-02T00:00:00Z')], license: 'x' },
      [first]: { next: `${origin}${first}`, items: [], license: 'x' },
    };
    const source = feedSource(`${origin}/feed`, clock);
    await harvest(store, source, http);

    const second = '/feed?afterTimestamp=1767312001&afterId=b';
    feed.pages[first] = { next: `${origin}${second}`, items: [updated('a', 1767312000), updated('b', 1767312001)], license: 'x' };
    feed.pages[second] = { next: `${origin}${second}`, items: [], license: 'x' };
    clock.advance(10_000);
    await harvest(store, source, http);

    const counts = await conformanceCounts(store, STREAM);
    expect(counts).toMatchObject({ 'C26:form': 1, C26: 2 });
    expect(counts['C21']).toBeUndefined();
    const rows = await mirrorRows(store, TABLE);
    expect([rows.get('a')?.modified, rows.get('b')?.modified]).toEqual(['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z']);
  });
});

describe('RPDE conformance checks on hand-written feeds', () => {
  let feed: HandWrittenFeed;

  beforeEach(async () => {
    feed = await HandWrittenFeed.start();
  });

  afterEach(() => feed.close());

  async function harvestFeed(): Promise<Record<string, number>> {
    await harvest(store, feedSource(`${feed.origin}/feed`, clock), http);
    return conformanceCounts(store, STREAM);
  }

  it('C3: Cache-Control of a page with items not public with max-age>=3600, of the last page not public with max-age<=8', async () => {
    const [first, second, last] = feed.serveChain([[updated('a', 1)], [updated('b', 2)]]) as [string, string, string];
    feed.pageHeaders = {
      [first]: { 'cache-control': 'private, max-age=3600' },
      [second]: { 'cache-control': 'public, max-age=3600' },
      [last]: { 'cache-control': 'public, max-age=60' },
    };
    expect((await harvestFeed())['C3']).toBe(2);
  });

  it('C14:changed: an id seen again with another kind', async () => {
    feed.serveChain([[updated('a', 1, 'SessionSeries')], [updated('a', 2, 'ScheduledSession')]]);
    const counts = await harvestFeed();
    expect(counts['C14:changed']).toBe(1);
    expect(counts['C26']).toBeUndefined();
    expect((await mirrorRows(store, TABLE)).get('a')?.kind).toBe('ScheduledSession');
  });

  it('C20: a next cursor other than the last item of its page', async () => {
    const lagging = '/feed?afterTimestamp=1&afterId=a';
    const last = '/feed?afterTimestamp=3&afterId=c';
    feed.pages = {
      '/feed': { next: `${feed.origin}${lagging}`, items: [updated('a', 1), updated('b', 2)], license: 'x' },
      [lagging]: { next: `${feed.origin}${last}`, items: [updated('c', 3)], license: 'x' },
      [last]: { next: `${feed.origin}${last}`, items: [], license: 'x' },
    };
    expect((await harvestFeed())['C20']).toBe(1);
  });

  it('C21: modified going backwards from one page to the next', async () => {
    feed.serveChain([[updated('a', 5), updated('b', 6)], [updated('c', 4)]]);
    const counts = await harvestFeed();
    expect(counts['C21']).toBe(1);
    expect(counts['C21:id']).toBeUndefined();
  });

  it('C21:id: the id going backwards from one page to the next at equal modified', async () => {
    feed.serveChain([[updated('a', 5), updated('c', 6)], [updated('b', 6)]]);
    const counts = await harvestFeed();
    expect(counts['C21:id']).toBe(1);
    expect(counts['C21']).toBeUndefined();
  });

  it('C22:id: items with equal modified out of id order within a page', async () => {
    feed.serveChain([[updated('a', 5), updated('c', 5), updated('b', 5)]]);
    const counts = await harvestFeed();
    expect(counts['C22:id']).toBe(1);
    expect(counts['C22']).toBeUndefined();
  });

  it('C23 once and C25: a page starting with the item its cursor names (">=" instead of ">") on pages not publicly cacheable', async () => {
    feed.serveChain([[updated('a', 1), updated('b', 2)], [updated('b', 2), updated('c', 3)]]);
    const counts = await harvestFeed();
    expect(counts).toMatchObject({ C23: 1, C25: 1 });
    expect(counts['C25:cached']).toBeUndefined();
  });

  it('C25:cached: the same repeat on publicly cacheable pages, where a stale CDN copy explains it', async () => {
    feed.serveChain([[updated('a', 1), updated('b', 2)], [updated('b', 2), updated('c', 3)]]);
    feed.headers = { ...feed.headers, 'cache-control': 'public, max-age=3600' };
    const counts = await harvestFeed();
    expect(counts).toMatchObject({ C23: 1, 'C25:cached': 1 });
    expect(counts['C25']).toBeUndefined();
  });

  it('C27: a full pass that saw no deleted item; none when it saw one', async () => {
    feed.serveChain([[updated('a', 1), updated('b', 2)]]);
    expect((await harvestFeed())['C27']).toBe(1);

    feed.serveChain([[updated('a', 1), deleted('b', 3)]]);
    await store.transaction(async (tx) => {
      const state = await tx.readState(STREAM);
      if (state) await tx.writeState({ ...state, cursor: null });
    });
    expect((await harvestFeed())['C27']).toBe(1);
  });

  it('C28: a page with fewer than 500 items that is not the end of the feed', async () => {
    feed.serveChain([[updated('a', 1), updated('b', 2)], [updated('c', 3)], [updated('d', 4)]]);
    expect((await harvestFeed())['C28']).toBe(2);
  });
});

describe('RPDE feeds behind redirects', () => {
  let feed: HandWrittenFeed;
  let origin: string;

  beforeEach(async () => {
    feed = await HandWrittenFeed.start();
    origin = feed.origin;
  });

  afterEach(() => feed.close());

  const redirect = (status: number, location: string) => ({ status, headers: { location } });

  it('follows redirects within the feed origin (C36:redirect) and takes a page naming its final URL as next as the last page', async () => {
    const moved = '/v2/feed?afterTimestamp=2&afterId=b';
    feed.responses = {
      '/old-feed': redirect(301, '/feed'),
      '/feed?afterTimestamp=2&afterId=b': redirect(308, `${origin}${moved}`),
    };
    feed.pages = {
      '/feed': { next: `${origin}/feed?afterTimestamp=2&afterId=b`, items: [updated('a', 1), updated('b', 2)], license: 'x' },
      [moved]: { next: `${origin}${moved}`, items: [], license: 'x' },
    };
    const source = feedSource(`${origin}/old-feed`, clock);
    await harvest(store, source, http);

    expect(feed.served).toEqual(['/old-feed', '/feed', '/feed?afterTimestamp=2&afterId=b', moved]);
    expect(await cursorOf(store, STREAM)).toMatchObject({ atEnd: true, next: `${origin}${moved}` });
    expect([...(await mirrorRows(store, TABLE)).keys()].sort()).toEqual(['a', 'b']);
    const counts = await conformanceCounts(store, STREAM);
    expect(counts).toMatchObject({ 'C36:redirect': 2 });
    expect(counts['C7']).toBeUndefined();
    expect(counts['C8:cycle']).toBeUndefined();

    // Polling goes straight to where the feed now is.
    clock.advance(10_000);
    await harvest(store, source, http);
    expect(feed.served.slice(4)).toEqual([moved]);
  });

  it('refuses a redirect to another origin (C7:refused) without requesting it', async () => {
    feed.responses = { '/feed': redirect(302, `http://localhost:${new URL(origin).port}/feed`) };
    const failure = await failedRun(harvest(store, feedSource(`${origin}/feed`, clock), http));
    expect(failure.cause).toBeInstanceOf(RpdeFeedError);
    expect(failure.message).toMatch(/not the feed's nor in allowedOrigins/);
    expect(feed.served).toEqual(['/feed']);
    expect(await conformanceCounts(store, STREAM)).toEqual({ 'C7:refused': 1 });
  });

  it('gives up after 5 redirects (C1) instead of following a redirect loop', async () => {
    feed.responses = { '/a': redirect(307, '/b'), '/b': redirect(307, '/a') };
    const failure = await failedRun(harvest(store, feedSource(`${origin}/a`, clock), http));
    expect(failure.status).toBe('backoff');
    expect(failure.message).toMatch(/more than 5 redirects/);
    expect(feed.served).toEqual(['/a', '/b', '/a', '/b', '/a', '/b']);
    expect(await conformanceCounts(store, STREAM)).toEqual({ 'C36:redirect': 5, C1: 1 });
  });
});
