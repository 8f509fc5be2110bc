import { afterEach, describe, expect, it } from 'vitest';
import { LARGE_MODIFIED_BASE, SEVEN_DAYS_MS } from '../../../src/simulators/rpde/rpde-feed.js';
import { startRpdePublisher, type RpdePublisher, type RpdePublisherOptions } from '../../../src/simulators/rpde/publisher.js';
import { harvestToLastPage, isLastPage, liveOf, readPage, type MirrorEntry } from './read-page.js';

let publisher: RpdePublisher | undefined;
afterEach(async () => {
  await publisher?.close();
  publisher = undefined;
});

async function start(options: RpdePublisherOptions): Promise<RpdePublisher> {
  publisher = await startRpdePublisher(options);
  return publisher;
}

describe('RPDE simulator paging (modified + id)', () => {
  it('serves the first page from the beginning of time, with an absolute next built from its last item', async () => {
    const { url, origin } = await start({ items: 10, pageSize: 4, modifiedBase: 1000n, seed: { tiesPerTimestamp: 1 } });
    const page = await readPage(url);

    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^application\/json/);
    expect(page.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(page.license).toBe('https://creativecommons.org/licenses/by/4.0/');
    expect(page.items.map((item) => [item.id, item.modified])).toEqual([
      ['ss-0000001', 1000n],
      ['ss-0000002', 1001n],
      ['ss-0000003', 1002n],
      ['ss-0000004', 1003n],
    ]);
    expect(page.items.every((item) => item.state === 'updated' && item.kind === 'SessionSeries')).toBe(true);
    expect(page.next).toBe(`${origin}/feeds/session-series?afterTimestamp=1003&afterId=ss-0000004`);
  });

  it('pages through items that share one modified value by afterId, each item exactly once and in order', async () => {
    const { url, feed } = await start({ items: 11, pageSize: 3, seed: { tiesPerTimestamp: 4 } });
    const { pages } = await harvestToLastPage(url, new Map());

    const seen = pages.flatMap((page) => page.items);
    expect(seen.map((item) => item.id)).toEqual([...feed.liveItems().keys()].sort());
    // Three distinct modified values for eleven items: most page boundaries fall inside a tie.
    expect(new Set(seen.map((item) => item.modified)).size).toBe(3);
    expect(pages.slice(0, -1).every((page) => new URL(page.next).searchParams.has('afterId'))).toBe(true);
  });

  it('serves the last page empty, with next equal to its own URL byte for byte and a short cache TTL', async () => {
    const { origin, feed } = await start({ items: 3, pageSize: 10 });
    const target = `/feeds/session-series?afterTimestamp=${feed.lastModified}&afterId=ss-0000003&x=%7Bbrace%7D`;
    const page = await readPage(`${origin}${target}`);

    expect(page.items).toEqual([]);
    expect(page.next).toBe(`${origin}${target}`);
    expect(isLastPage(page)).toBe(true);
    expect(page.headers.get('cache-control')).toBe('public, max-age=8');
  });

  it('an empty feed is its own last page', async () => {
    const { url } = await start({});
    const page = await readPage(url);
    expect(isLastPage(page)).toBe(true);
  });

  it('writes modified values above 2^53 as exact JSON integers and pages on them losslessly', async () => {
    const { url } = await start({ items: 5, pageSize: 2, modifiedBase: LARGE_MODIFIED_BASE, seed: { tiesPerTimestamp: 1 } });
    const first = await readPage(url);

    expect(first.text).toContain('"modified":16868761346890000001,');
    expect(first.text).toContain('"modified":16868761346890000002,');
    expect(first.next).toMatch(/afterTimestamp=16868761346890000002&afterId=ss-0000002$/);
    const { pages } = await harvestToLastPage(url, new Map());
    expect(pages.flatMap((page) => page.items).map((item) => item.modified)).toEqual([
      16868761346890000001n,
      16868761346890000002n,
      16868761346890000003n,
      16868761346890000004n,
      16868761346890000005n,
    ]);
  });

  it('answers 400 naming the parameter when afterTimestamp is not an integer', async () => {
    const { url } = await start({ items: 1 });
    const response = await fetch(`${url}?afterTimestamp=yesterday&afterId=a`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('afterTimestamp must be an integer');
  });
});

describe('RPDE simulator paging (change number)', () => {
  it('gives every write its own change number and builds next from afterChangeNumber alone', async () => {
    const { url, origin, feed } = await start({ strategy: 'change-number', items: 5, pageSize: 2 });
    feed.upsertMany([{ id: 'ss-0000001' }, { id: 'ss-0000002' }]);
    const { pages } = await harvestToLastPage(url, new Map());

    const modifieds = pages.flatMap((page) => page.items.map((item) => item.modified));
    expect(modifieds).toEqual([3n, 4n, 5n, 6n, 7n]);
    expect(pages[0]?.next).toBe(`${origin}/feeds/session-series?afterChangeNumber=4`);
    expect(pages.flatMap((page) => page.items.map((item) => item.id))).toEqual([
      'ss-0000003',
      'ss-0000004',
      'ss-0000005',
      'ss-0000001',
      'ss-0000002',
    ]);
  });
});

describe('RPDE simulator deletes and filtering', () => {
  it('publishes a delete as a tombstone without data at the end of the feed, with a new modified', async () => {
    const { url, feed } = await start({ items: 4, pageSize: 10, seed: { tiesPerTimestamp: 1 } });
    const before = feed.get('ss-0000002')?.modified as bigint;
    feed.delete('ss-0000002');
    const page = await readPage(url);

    const last = page.items[page.items.length - 1];
    expect(last?.id).toBe('ss-0000002');
    expect(last?.state).toBe('deleted');
    expect(last && 'data' in last).toBe(false);
    expect(last?.modified).toBeGreaterThan(before);
    expect(page.items.filter((item) => item.id === 'ss-0000002')).toHaveLength(1);
    expect(feed.liveItems().has('ss-0000002')).toBe(false);
  });

  it('purges a tombstone once the retention period has passed, and not before', async () => {
    let now = 1_000_000;
    const { url, feed } = await start({ items: 2, now: () => now, tombstoneRetentionMs: SEVEN_DAYS_MS });
    feed.delete('ss-0000001');

    now += SEVEN_DAYS_MS - 1;
    expect((await readPage(url)).items.map((item) => [item.id, item.state])).toEqual([
      ['ss-0000002', 'updated'],
      ['ss-0000001', 'deleted'],
    ]);
    now += 1;
    expect((await readPage(url)).items.map((item) => item.id)).toEqual(['ss-0000002']);
  });

  it('hidden items leave an empty page whose next moves on, and the harvest still reaches every shown item', async () => {
    const { url, feed } = await start({ items: 9, pageSize: 3, seed: { hidden: (index) => index >= 3 && index < 6 } });
    const mirror = new Map<string, MirrorEntry>();
    const { pages } = await harvestToLastPage(url, mirror);

    expect(pages.map((page) => page.items.length)).toEqual([3, 0, 3, 0]);
    expect(pages[1]?.next).not.toBe(pages[1]?.url);
    expect([...liveOf(mirror).keys()].sort()).toEqual(['ss-0000001', 'ss-0000002', 'ss-0000003', 'ss-0000007', 'ss-0000008', 'ss-0000009']);
    expect(liveOf(mirror)).toEqual(feed.liveItems());
  });

  it('an item that was shown and then filtered out leaves through a tombstone', async () => {
    const { url, feed } = await start({ items: 3, pageSize: 10 });
    const mirror = new Map<string, MirrorEntry>();
    const { lastUrl } = await harvestToLastPage(url, mirror);
    feed.upsert('ss-0000002', { hidden: true });
    await harvestToLastPage(lastUrl, mirror);

    expect(mirror.get('ss-0000002')?.state).toBe('deleted');
    expect(feed.liveItems().has('ss-0000002')).toBe(false);
    expect(liveOf(mirror)).toEqual(feed.liveItems());
  });
});

describe('RPDE simulator item data', () => {
  it('publishes about 1 KB of OpenActive JSON-LD per item, changed by each revision', async () => {
    const { url, feed } = await start({ items: 50, pageSize: 50 });
    const page = await readPage(url);
    const perItem = page.text.length / page.items.length;
    expect(perItem).toBeGreaterThan(800);
    expect(perItem).toBeLessThan(1600);

    const before = feed.liveItems().get('ss-0000001')?.data as { '@type': string; '@id': string };
    expect(before['@type']).toBe('SessionSeries');
    expect(before['@id']).toMatch(/^https:\/\/.+\/session-series\/ss-0000001$/);
    feed.upsert('ss-0000001');
    expect(feed.liveItems().get('ss-0000001')?.data).not.toEqual(before);
  });

  it('can publish ScheduledSession items that point at their series', async () => {
    const { url } = await start({ items: 2, kind: 'ScheduledSession' });
    const page = await readPage(url);
    expect(page.items[0]?.kind).toBe('ScheduledSession');
    expect(page.items[0]?.data).toMatchObject({ '@type': 'ScheduledSession', superEvent: expect.stringMatching(/session-series/) as unknown });
  });
});
