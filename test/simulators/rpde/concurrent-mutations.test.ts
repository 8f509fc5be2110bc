import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { OrderingStrategy, RpdeFeed } from '../../../src/simulators/rpde/rpde-feed.js';
import { startRpdePublisher, type RpdePublisher } from '../../../src/simulators/rpde/publisher.js';
import { harvestToLastPage, liveOf, type MirrorEntry, type ReadPage } from './read-page.js';

let publisher: RpdePublisher | undefined;
afterEach(async () => {
  await publisher?.close();
  publisher = undefined;
});

/** Feed order as the spec defines it: (modified, id) ascending, or the change number. */
function inFeedOrder(pages: readonly ReadPage[], strategy: OrderingStrategy): boolean {
  const items = pages.flatMap((page) => page.items);
  for (let i = 1; i < items.length; i += 1) {
    const [a, b] = [items[i - 1], items[i]];
    if (!a || !b) return false;
    if (a.modified < b.modified) continue;
    if (strategy === 'change-number' || a.modified > b.modified || a.id >= b.id) return false;
  }
  return true;
}

describe('RPDE simulator under writes during a harvest', () => {
  it('moves an item updated after its page was read further down, where the harvest meets it again', async () => {
    publisher = await startRpdePublisher({ items: 12, pageSize: 4 });
    const { feed } = publisher;
    const mirror = new Map<string, MirrorEntry>();
    const { pages } = await harvestToLastPage(publisher.url, mirror, (index) => {
      if (index === 1) feed.upsert('ss-0000002');
    });

    const appearances = pages.flatMap((page) => page.items).filter((item) => item.id === 'ss-0000002');
    expect(appearances).toHaveLength(2);
    expect(appearances[1]?.modified).toBeGreaterThan(appearances[0]?.modified ?? 0n);
    expect(liveOf(mirror)).toEqual(feed.liveItems());
  });

  it('takes an item updated before the harvest reached it off its old page, so it is not seen twice', async () => {
    publisher = await startRpdePublisher({ items: 12, pageSize: 4 });
    const { feed } = publisher;
    const { pages } = await harvestToLastPage(publisher.url, new Map(), (index) => {
      if (index === 1) feed.upsert('ss-0000010');
    });

    const ids = pages.flatMap((page) => page.items.map((item) => item.id));
    expect(ids.filter((id) => id === 'ss-0000010')).toHaveLength(1);
    expect(ids[ids.length - 1]).toBe('ss-0000010');
    expect(ids).toHaveLength(12);
  });

  it('delivers a delete made during the harvest as a tombstone on a later page', async () => {
    publisher = await startRpdePublisher({ items: 12, pageSize: 4 });
    const { feed } = publisher;
    const mirror = new Map<string, MirrorEntry>();
    await harvestToLastPage(publisher.url, mirror, (index) => {
      if (index === 2) feed.delete('ss-0000001');
    });

    expect(mirror.get('ss-0000001')?.state).toBe('deleted');
    expect(mirror.get('ss-0000001')?.data).toBeUndefined();
    expect(liveOf(mirror)).toEqual(feed.liveItems());
  });

  type Write = { kind: 'upsert'; pick: number } | { kind: 'create' } | { kind: 'delete'; pick: number } | { kind: 'hide'; pick: number };
  const write: fc.Arbitrary<Write> = fc.oneof(
    fc.record({ kind: fc.constant('upsert' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('create' as const) }),
    fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('hide' as const), pick: fc.nat() }),
  );

  function applyWrite(feed: RpdeFeed, step: Write): void {
    const ids = [...feed.liveItems().keys()];
    const id = step.kind === 'create' ? feed.newId() : ids[step.pick % Math.max(1, ids.length)];
    if (id === undefined) return;
    if (step.kind === 'delete') feed.delete(id);
    else feed.upsert(id, { hidden: step.kind === 'hide' });
  }

  it('always ends, for any writes between any pages, with a harvest equal to the live items, pages in feed order and no id twice in a page', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<OrderingStrategy>('modified-id', 'change-number'),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.array(write, { maxLength: 4 }), { maxLength: 10 }),
        async (strategy, items, pageSize, ties, writesBeforePage) => {
          const started = await startRpdePublisher({ strategy, items, pageSize, seed: { tiesPerTimestamp: ties } });
          try {
            const mirror = new Map<string, MirrorEntry>();
            const { pages } = await harvestToLastPage(started.url, mirror, (index) => {
              for (const step of writesBeforePage[index] ?? []) applyWrite(started.feed, step);
            });
            // Each request sees one consistent state, so every page on its own is in feed order.
            for (const page of pages) {
              expect(inFeedOrder([page], strategy)).toBe(true);
              expect(new Set(page.items.map((item) => item.id)).size).toBe(page.items.length);
            }
            expect(liveOf(mirror)).toEqual(started.feed.liveItems());
          } finally {
            await started.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('without writes, the pages of one harvest concatenate into the feed order', async () => {
    for (const strategy of ['modified-id', 'change-number'] as const) {
      publisher = await startRpdePublisher({ strategy, items: 30, pageSize: 7 });
      publisher.feed.upsertMany([{ id: 'ss-0000003' }, { id: 'ss-0000001' }]);
      publisher.feed.delete('ss-0000005');
      const { pages } = await harvestToLastPage(publisher.url, new Map());
      expect(inFeedOrder(pages, strategy)).toBe(true);
      expect(pages.flatMap((page) => page.items)).toHaveLength(30);
      await publisher.close();
      publisher = undefined;
    }
  });
});
