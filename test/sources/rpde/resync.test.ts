import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../../src/core/json.js';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { startRpdePublisher, type RpdePublisher } from '../../../src/simulators/rpde/publisher.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { tempSqliteStore } from '../../helpers/stores.js';
import { HandWrittenFeed, updated } from './hand-written-feed.js';
import { conformanceCounts, cursorOf, DAY, expectMirrorOf, feedSource, harvest, mirrorRows, TestClock } from './harness.js';

const TABLE = 'test_session_series_items';
const STREAM = 'rpde:test:session-series';

let store: SqliteStore;
let cleanup: () => Promise<void>;
let http: UndiciHttpClient;
let publisher: RpdePublisher;
let clock: TestClock;
/** The publisher's own clock: its tombstones expire after a day. */
let publisherMs: number;

beforeEach(async () => {
  ({ store, cleanup } = await tempSqliteStore());
  http = createHttpClient({ maxRetries: 0 });
  clock = new TestClock();
  publisherMs = Date.parse('2026-03-01T00:00:00Z');
  publisher = await startRpdePublisher({ items: 250, pageSize: 50, tombstoneRetentionMs: DAY, now: () => publisherMs });
});

afterEach(async () => {
  await publisher.close();
  await http.close();
  await cleanup();
});

/** Deletes items at the publisher and lets their tombstones expire before the mirror reads them. */
function vanish(ids: readonly string[]): void {
  publisher.feed.deleteMany(ids);
  publisherMs += 2 * DAY;
  publisher.feed.purgeExpired();
}

/** What the `reset` command does: forget the cursor, keep the rest. */
async function reset(): Promise<void> {
  const state = await store.readState(STREAM);
  if (!state) throw new Error('no state to reset');
  await store.transaction((tx) => tx.writeState({ ...state, cursor: null }));
}

function lastResync(details: JsonValue | undefined): JsonValue {
  return typeof details === 'object' && details !== null && !Array.isArray(details) ? (details['lastResync'] ?? null) : null;
}

describe('RPDE resync', () => {
  it('re-reads the whole feed when it was not reached for longer than resyncAfter, tombstoning what vanished (C31) and counting it as deleted, not upserted', async () => {
    const source = feedSource(publisher.url, clock);
    await harvest(store, source, http);
    const ids = [...publisher.feed.liveItems().keys()];
    vanish(ids.slice(10, 17));
    publisher.feed.upsert(ids[20] as string);

    clock.advance(8 * DAY);
    await harvest(store, source, http);

    await expectMirrorOf(store, TABLE, publisher.feed.liveItems());
    const rows = await mirrorRows(store, TABLE);
    expect(rows.get(ids[10] as string)).toMatchObject({ state: 'deleted', data: null });
    expect((await conformanceCounts(store, STREAM))['C31']).toBe(7);
    const state = await store.readState(STREAM);
    expect(lastResync(state?.details)).toMatchObject({ vanished: 7 });
    // Two passes wrote 250 and 243 item versions; the 7 the sweep tombstoned (C31) are deletions, not upserts.
    expect(state).toMatchObject({ rowsUpserted: 250 + 243, rowsDeleted: 7 });
    // The whole feed was read from its start again.
    expect(publisher.requests.filter((request) => request.url === publisher.url)).toHaveLength(2);
  });

  it('does not resync a feed polled regularly: vanished items stay until a reset', async () => {
    const source = feedSource(publisher.url, clock);
    await harvest(store, source, http);
    const ids = [...publisher.feed.liveItems().keys()];
    vanish(ids.slice(0, 3));
    clock.advance(DAY);
    await harvest(store, source, http);
    expect((await mirrorRows(store, TABLE)).get(ids[0] as string)?.state).toBe('updated');

    await reset();
    await harvest(store, source, http);
    await expectMirrorOf(store, TABLE, publisher.feed.liveItems());
    expect((await conformanceCounts(store, STREAM))['C31']).toBe(3);
  });

  it('an interrupted full pass resumes where it stopped and sweeps only what the whole pass did not see', async () => {
    const source = feedSource(publisher.url, clock);
    await harvest(store, source, http);
    const ids = [...publisher.feed.liveItems().keys()];
    vanish(ids.slice(100, 104));
    // Same millisecond as the first pass: the new pass must still get a greater number.
    await reset();
    // Let two pages through, then fail the third request of the pass.
    let served = 0;
    publisher.injectFault({ type: 'status', status: 500 }, { match: () => (served += 1) === 3 });
    await harvest(store, source, http).catch(() => undefined);
    const midway = await cursorOf(store, STREAM);
    expect(midway?.['sweeping']).toBe(true);
    expect((await mirrorRows(store, TABLE)).get(ids[100] as string)?.state).toBe('updated');

    // Items updated while the pass is under way move to its end; they must not be swept.
    publisher.feed.upsertMany(ids.slice(0, 5).map((id) => ({ id })));
    await harvest(store, source, http);
    await expectMirrorOf(store, TABLE, publisher.feed.liveItems());
    expect((await conformanceCounts(store, STREAM))['C31']).toBe(4);
    expect((await cursorOf(store, STREAM))?.['sweeping']).toBe(false);
  });
});

describe('RPDE resync after the publisher served an older version of a stored item', () => {
  let feed: HandWrittenFeed;
  beforeEach(async () => {
    feed = await HandWrittenFeed.start();
  });
  afterEach(() => feed.close());

  function serve(items: readonly unknown[]): void {
    const last = '/feed?afterTimestamp=101&afterId=y';
    feed.pages = {
      '/feed': { next: `${feed.origin}${last}`, items, license: 'x' },
      [last]: { next: `${feed.origin}${last}`, items: [], license: 'x' },
    };
  }

  it('keeps the item live (the refused version still counts as seen by the pass) and reports the regression (C26)', async () => {
    serve([updated('x', 100), updated('y', 101)]);
    const source = feedSource(`${feed.origin}/feed`, clock);
    await harvest(store, source, http);

    serve([updated('x', 90), updated('y', 101)]);
    clock.advance(8 * DAY);
    await harvest(store, source, http);

    expect(lastResync((await store.readState(STREAM))?.details)).toMatchObject({ vanished: 0 });
    const rows = await mirrorRows(store, TABLE);
    expect(rows.get('x')).toMatchObject({ state: 'updated', modified: '100', data: { id: 'x', modified: 100 } });
    const counts = await conformanceCounts(store, STREAM);
    expect(counts['C26']).toBe(1);
    expect(counts['C31']).toBeUndefined();
  });
});

describe('RPDE resync of a feed that stopped making progress', () => {
  let feed: HandWrittenFeed;
  beforeEach(async () => {
    feed = await HandWrittenFeed.start();
  });
  afterEach(() => feed.close());

  it('re-reads the whole feed once a self-looping page has held the cursor for longer than resyncAfter', async () => {
    const looping = '/feed?afterTimestamp=2&afterId=b';
    feed.pages = {
      '/feed': { next: `${feed.origin}${looping}`, items: [updated('a', 1), updated('b', 2)], license: 'x' },
      [looping]: { next: `${feed.origin}${looping}`, items: [updated('c', 3)], license: 'x' },
    };
    const source = feedSource(`${feed.origin}/feed`, clock);
    // Retried daily: each run reads the looping page once more and commits it, without progress.
    for (let day = 0; day <= 7; day += 1) {
      await expect(harvest(store, source, http)).rejects.toThrow(/self-loop/);
      clock.advance(DAY);
    }
    expect(feed.served.filter((target) => target === '/feed')).toHaveLength(1);
    expect(feed.served.filter((target) => target === looping)).toHaveLength(8);

    await expect(harvest(store, source, http)).rejects.toThrow(/self-loop/);
    expect(feed.served.filter((target) => target === '/feed')).toHaveLength(2);
  });
});
