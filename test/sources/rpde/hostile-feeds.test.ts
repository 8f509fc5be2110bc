import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { StreamRunError } from '../../../src/runner/run-stream.js';
import { startRpdePublisher, type RpdePublisher, type RpdePublisherOptions } from '../../../src/simulators/rpde/publisher.js';
import { RpdeFeedError } from '../../../src/sources/rpde/feed-error.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { tempSqliteStore } from '../../helpers/stores.js';
import { HandWrittenFeed, updated } from './hand-written-feed.js';
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

  it('an afterId without afterTimestamp is reported (C19) and the harvest still converges', async () => {
    const pub = await publish();
    pub.injectFault({ type: 'afterIdOnly' }, laterPages);
    const source = feedSource(pub.url, clock);
    await harvest(store, source, http).catch(() => undefined);
    clock.advance(10_000);
    await harvest(store, source, http);
    expect((await conformanceCounts(store, STREAM))['C19']).toBeGreaterThanOrEqual(1);
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

  it('reads the spec example and the openactive.rb pages as a feed: ids verbatim, tombstones, C20 on a next that skips the cursor', async () => {
    const lastUrl = '/feed?afterTimestamp=1506335264224&afterId=C5CLBD07000317';
    feed.pages = {
      '/feed': {
        next: `${origin}/feed?afterTimestamp=1453931925&afterId=%7Bd97f73fb-4718-48ee-a6a9-9c7d717ebd85%7D`,
        items: [
          { state: 'updated', kind: 'session', id: '{c15814e5-8931-470c-8a16-ef45afedaece}', modified: 1453931101, data: { a: 1 } },
          { state: 'deleted', kind: 'session', id: '{d97f73fb-4718-48ee-a6a9-9c7d717ebd85}', modified: 1453931925 },
        ],
        license: 'https://creativecommons.org/licenses/by/4.0/',
      },
      // As in multiple-items.json, next does not come from the page's last item.
      '/feed?afterTimestamp=1453931925&afterId=%7Bd97f73fb-4718-48ee-a6a9-9c7d717ebd85%7D': {
        next: `${origin}${lastUrl}`,
        items: [{ state: 'deleted', kind: 'session', id: 'C3CLAQB20000714', modified: 1506335263039 }],
        license: 'x',
      },
      [lastUrl]: { next: `${origin}${lastUrl}`, items: [], license: 'x' },
    };
    await harvest(store, feedSource(`${origin}/feed`, clock), http);
    const rows = await mirrorRows(store, TABLE);
    expect(rows.get('{c15814e5-8931-470c-8a16-ef45afedaece}')).toMatchObject({ state: 'updated', data: { a: 1 } });
    expect(rows.get('{d97f73fb-4718-48ee-a6a9-9c7d717ebd85}')).toMatchObject({ state: 'deleted', data: null });
    expect(rows.get('C3CLAQB20000714')?.state).toBe('deleted');
    expect(feed.served).toHaveLength(3);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C20: 1 });
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
