import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RetryLaterError, StreamGoneError } from '../../../src/core/source.js';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { runStream, StreamRunError } from '../../../src/runner/run-stream.js';
import { memoryLogger } from '../../helpers/silent-log.js';
import { LARGE_MODIFIED_BASE } from '../../../src/simulators/rpde/rpde-feed.js';
import { startRpdePublisher, type RpdePublisher, type RpdePublisherOptions } from '../../../src/simulators/rpde/publisher.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { tempSqliteStore } from '../../helpers/stores.js';
import {
  conformanceCounts,
  cursorOf,
  DAY,
  expectMirrorOf,
  feedSource,
  harvest,
  MINUTE,
  mirrorRows,
  TestClock,
} from './harness.js';

const TABLE = 'test_session_series_items';
const STREAM = 'rpde:test:session-series';

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

async function publish(options: RpdePublisherOptions): Promise<RpdePublisher> {
  publisher = await startRpdePublisher(options);
  return publisher;
}

async function runFailure(promise: Promise<unknown>): Promise<StreamRunError> {
  const error = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(StreamRunError);
  return error as StreamRunError;
}

describe('RPDE harvest into SQLite', () => {
  it('mirrors a feed page by page: live items with their data, deleted ones as tombstones', async () => {
    const pub = await publish({ items: 450, pageSize: 100, seed: { tiesPerTimestamp: 7 } });
    const ids = [...pub.feed.liveItems().keys()];
    pub.feed.deleteMany(ids.slice(0, 30));
    pub.feed.upsert(ids[40] as string);
    const source = feedSource(pub.url, clock);

    const result = await harvest(store, source, http);

    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
    const rows = await mirrorRows(store, TABLE);
    expect(rows.size).toBe(450);
    expect(rows.get(ids[0] as string)).toMatchObject({ state: 'deleted', data: null });
    // One commit per page, the last page included.
    const pages = pub.requests.length;
    expect(pages).toBe(6);
    expect(result.commits).toBe(pages);
    expect(pub.requests.at(-1)?.lastPage).toBe(true);
    const cursor = await cursorOf(store, STREAM);
    expect(cursor?.['next']).toBe(pub.requests.at(-1)?.url);
    expect(cursor?.['atEnd']).toBe(true);
  });

  it('keeps modified values above 2^53 exact (change-number feed)', async () => {
    const pub = await publish({ items: 120, pageSize: 50, strategy: 'change-number', modifiedBase: LARGE_MODIFIED_BASE });
    await harvest(store, feedSource(pub.url, clock), http);
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
    const rows = await mirrorRows(store, TABLE);
    expect([...rows.values()].map((row) => row.modified)).toContain((LARGE_MODIFIED_BASE + 119n).toString());
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C18: 120 });
  });

  it('polls from the last page: later runs read only what changed, never sooner than the poll interval', async () => {
    const pub = await publish({ items: 300, pageSize: 100 });
    const source = feedSource(pub.url, clock);
    await harvest(store, source, http);
    const before = pub.requests.length;

    const early = await harvest(store, source, http);
    expect(early.commits).toBe(0);
    expect(pub.requests.length).toBe(before);

    const ids = [...pub.feed.liveItems().keys()];
    pub.feed.upsert(ids[5] as string);
    pub.feed.delete(ids[6] as string);
    pub.feed.upsert(pub.feed.newId());
    clock.advance(8_000);
    await harvest(store, source, http);
    const later = pub.requests.slice(before);
    expect(later.map((request) => request.items)).toEqual([3, 0]);
    expect(later[0]?.url).toBe(pub.requests[before - 1]?.url);
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it('a scheduled run within the poll interval is skipped with the reason at info level; a requested one (sync) reads anyway', async () => {
    const pub = await publish({ items: 120, pageSize: 100 });
    const source = feedSource(pub.url, clock, { pollIntervalMs: 30_000 });
    await harvest(store, source, http);
    const before = pub.requests.length;
    pub.feed.upsert(pub.feed.newId());
    clock.advance(5_000);

    const scheduled = memoryLogger('info');
    const skipped = await runStream({ store, source, http, log: scheduled.log, signal: new AbortController().signal });
    expect(skipped.commits).toBe(0);
    expect(pub.requests.length).toBe(before);
    const line = scheduled.lines.map((text) => JSON.parse(text) as { level: number; msg: string }).find((entry) => /skipped/.test(entry.msg));
    expect(line?.level).toBe(30);
    expect(line?.msg).toMatch(/last page was read 5 s ago, less than its pollInterval/);

    const requested = await runStream({ store, source, http, log: memoryLogger('warn').log, signal: new AbortController().signal, requested: true });
    expect(requested.upserted).toBe(1);
    expect(pub.requests.length).toBeGreaterThan(before);
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it('counts deleted items as deletions in the run result and the stream totals, and pruning tombstones as neither', async () => {
    const pub = await publish({ items: 200, pageSize: 50 });
    const source = feedSource(pub.url, clock, { tombstoneRetentionMs: MINUTE, pruneEveryMs: 0 });
    const first = await harvest(store, source, http);
    expect(first).toMatchObject({ upserted: 200, deleted: 0 });

    const ids = [...pub.feed.liveItems().keys()];
    for (const id of ids.slice(0, 40)) pub.feed.upsert(id);
    pub.feed.deleteMany(ids.slice(40, 65));
    clock.advance(8_000);
    const second = await harvest(store, source, http);
    expect(second).toMatchObject({ upserted: 40, deleted: 25 });
    expect(await store.readState(STREAM)).toMatchObject({ rowsUpserted: 240, rowsDeleted: 25 });

    clock.advance(2 * MINUTE);
    const third = await harvest(store, source, http);
    expect([...(await mirrorRows(store, TABLE)).values()].filter((row) => row.state === 'deleted')).toHaveLength(0);
    expect(third).toMatchObject({ upserted: 0, deleted: 0 });
    expect(await store.readState(STREAM)).toMatchObject({ rowsUpserted: 240, rowsDeleted: 25 });
  });

  it('follows empty pages that are not the last (in-stream filtering) and reports them as C10', async () => {
    const pub = await publish({ items: 400, pageSize: 50, seed: { hidden: (index) => index >= 100 && index < 250 } });
    await harvest(store, feedSource(pub.url, clock), http);
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
    expect(pub.feed.liveItems().size).toBe(250);
    expect((await conformanceCounts(store, STREAM))['C10']).toBe(3);
  });

  it('prunes tombstones older than the retention once the feed is caught up', async () => {
    const pub = await publish({ items: 60, pageSize: 50 });
    const ids = [...pub.feed.liveItems().keys()];
    const source = feedSource(pub.url, clock, { tombstoneRetentionMs: 60 * MINUTE, pruneEveryMs: 0 });
    await harvest(store, source, http);
    pub.feed.deleteMany(ids.slice(0, 4));
    clock.advance(MINUTE);
    await harvest(store, source, http);
    expect([...(await mirrorRows(store, TABLE)).values()].filter((row) => row.state === 'deleted')).toHaveLength(4);

    pub.feed.delete(ids[10] as string);
    clock.advance(2 * 60 * MINUTE);
    await harvest(store, source, http);
    const rows = await mirrorRows(store, TABLE);
    expect(rows.has(ids[0] as string)).toBe(false);
    expect(rows.get(ids[10] as string)?.state).toBe('deleted');
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });
});

describe('RPDE HTTP policy', () => {
  it('503 without Retry-After waits a random 60-120 minutes; with it, what it says; the cursor stays', async () => {
    const pub = await publish({ items: 150, pageSize: 50 });
    const source = feedSource(pub.url, clock, { random: () => 0.25 });
    pub.injectFault({ type: 'status', status: 503 }, { match: (url) => url.search !== '' });
    const first = await runFailure(harvest(store, source, http));
    expect(first.cause).toBeInstanceOf(RetryLaterError);
    expect(first.status).toBe('backoff');
    expect(first.retryAfterMs).toBe(75 * MINUTE);
    const cursor = await cursorOf(store, STREAM);
    expect(cursor?.['next']).toBe(pub.requests.find((request) => request.status === 503)?.url);

    pub.injectFault({ type: 'status', status: 429, retryAfter: '120' });
    const second = await runFailure(harvest(store, source, http));
    expect(second.retryAfterMs).toBe(120_000);
    expect(await cursorOf(store, STREAM)).toEqual(cursor);
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ 'C1:503': 1, 'C1:429': 1 });
    const state = await store.readState(STREAM);
    expect(state?.consecutiveFailures).toBe(0);

    await harvest(store, source, http);
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it.each([404, 410])('%i marks the stream gone (C1:404)', async (status) => {
    const pub = await publish({ items: 10 });
    pub.injectFault({ type: 'status', status });
    const failure = await runFailure(harvest(store, feedSource(pub.url, clock), http));
    expect(failure.cause).toBeInstanceOf(StreamGoneError);
    expect(failure.status).toBe('gone');
    expect((await store.readState(STREAM))?.status).toBe('gone');
    expect(await conformanceCounts(store, STREAM)).toEqual({ 'C1:404': 1 });
  });

  it('a 500, a 403, an HTML 200 and a cut body fail the run without moving the cursor or touching the mirror', async () => {
    const pub = await publish({ items: 200, pageSize: 50 });
    const source = feedSource(pub.url, clock);
    const afterFirstPage = (url: URL) => url.search !== '';
    await harvest(store, source, http);
    const cursor = await cursorOf(store, STREAM);
    const rowsBefore = await mirrorRows(store, TABLE);

    const ids = [...pub.feed.liveItems().keys()];
    pub.feed.upsertMany(ids.slice(0, 120).map((id) => ({ id })));
    clock.advance(10_000);
    for (const fault of [
      { type: 'status', status: 500 },
      { type: 'status', status: 403 },
      { type: 'html' },
      { type: 'cutBody' },
    ] as const) {
      pub.injectFault(fault, { match: afterFirstPage });
      const failure = await runFailure(harvest(store, source, http));
      expect(failure.status).toBe('backoff');
      expect(await cursorOf(store, STREAM)).toEqual(cursor);
      expect(await mirrorRows(store, TABLE)).toEqual(rowsBefore);
    }
    expect(await conformanceCounts(store, STREAM)).toMatchObject({ C1: 1, 'C1:403': 1, C2: 1, C4: 1 });
    expect((await store.readState(STREAM))?.consecutiveFailures).toBe(4);

    await harvest(store, source, http);
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });

  it('never holds the mirror half-changed when the run is aborted mid-page', async () => {
    const pub = await publish({ items: 200, pageSize: 50 });
    const source = feedSource(pub.url, clock);
    const controller = new AbortController();
    pub.injectFault({ type: 'slowBody', delayMs: 20, chunkBytes: 2000 }, { match: (url) => url.search !== '' });
    const run = harvest(store, source, http, controller.signal);
    // Abort once page 1 is committed, while page 2's body is still coming.
    let committed = false;
    while (!committed) {
      committed = (await cursorOf(store, STREAM)) !== null;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    controller.abort(new Error('shutdown'));
    const failure = await runFailure(run);
    expect(failure.status).toBe('idle');
    expect((await mirrorRows(store, TABLE)).size).toBe(50);
    clock.advance(DAY);
    await harvest(store, source, http);
    await expectMirrorOf(store, TABLE, pub.feed.liveItems());
  });
});
