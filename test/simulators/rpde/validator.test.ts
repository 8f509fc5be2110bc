import { RpdeValidator, type RpdeFeedLog, type RpdeValidationError } from '@openactive/rpde-validator';
import { afterEach, describe, expect, it } from 'vitest';
import type { RpdeFault } from '../../../src/simulators/rpde/faults.js';
import type { OrderingStrategy } from '../../../src/simulators/rpde/rpde-feed.js';
import { startRpdePublisher, type RpdePublisher } from '../../../src/simulators/rpde/publisher.js';

let publisher: RpdePublisher | undefined;
afterEach(async () => {
  await publisher?.close();
  publisher = undefined;
});

function failuresOf(log: RpdeFeedLog): RpdeValidationError[] {
  return log.pages.flatMap((page) => page.errors).filter((error) => error.severity === 'failure');
}

async function validate(url: string): Promise<RpdeFeedLog> {
  return RpdeValidator(url, { timeoutMs: 10_000, pageLimit: 20 });
}

/** A feed of 1,300 items (three pages of 500) whose last part carries tombstones, as real feeds do. */
async function wellFormedFeed(strategy: OrderingStrategy, hidden?: (index: number) => boolean): Promise<RpdePublisher> {
  const started = await startRpdePublisher({ strategy, items: 1300, pageSize: 500, seed: hidden ? { hidden } : {} });
  // Taken from the last page so that the first two pages keep their exact 500-item boundaries.
  const ids = [...started.feed.liveItems().keys()].sort();
  started.feed.deleteMany(ids.slice(1100, 1110));
  started.feed.upsertMany(ids.slice(1200, 1210).map((id) => ({ id })));
  return started;
}

describe('the real OpenActive RPDE validator walking the simulator', () => {
  for (const strategy of ['modified-id', 'change-number'] as const) {
    it(`reports no failures for a well-formed ${strategy} feed, walked to its last page`, async () => {
      publisher = await wellFormedFeed(strategy);
      const log = await validate(publisher.url);

      expect(failuresOf(log)).toEqual([]);
      // Guards against a vacuous pass (the validator swallows fetch errors): it read every page
      // with items, reached the last page, then probed the end of the feed as it always does.
      const pages = publisher.requests.filter((request) => request.status === 200 && request.items > 0);
      expect(pages.map((request) => request.items)).toEqual([500, 500, 300]);
      expect(publisher.requests.filter((request) => request.lastPage).length).toBeGreaterThanOrEqual(2);
    });
  }

  it('reports no failures when in-stream filtering leaves an empty page that is not the last', async () => {
    publisher = await wellFormedFeed('modified-id', (index) => index >= 500 && index < 1000);
    const log = await validate(publisher.url);

    expect(failuresOf(log)).toEqual([]);
    const emptyNotLast = publisher.requests.filter((r) => r.status === 200 && r.items === 0 && !r.lastPage);
    expect(emptyNotLast).toHaveLength(1);
  });

  // The same validator must see the simulator's faults as the defects they stand for, otherwise
  // the passes above would prove nothing about the validator's reach.
  const faults: [string, RpdeFault, string][] = [
    ['a duplicate id in a page', { type: 'duplicateId' }, 'no_duplicate_items'],
    ['a self-loop with items', { type: 'selfLoop' }, 'invalid_next_url_for_zero_items'],
    ['afterTimestamp without afterId', { type: 'afterTimestampOnly' }, 'after_id_with_timestamp'],
    // The validator has no rule for this one; it sees the consequence: the feed restarts.
    ['afterId without afterTimestamp', { type: 'afterIdOnly' }, 'no_duplicate_items'],
    ['a next to another host', { type: 'foreignNext', origin: 'http://feeds.example.net' }, 'base_url_mismatch'],
    ['an HTML 200', { type: 'html' }, 'invalid_content_type'],
    ['a 503', { type: 'status', status: 503, retryAfter: '120' }, 'invalid_status_code'],
  ];
  for (const [name, fault, expectedType] of faults) {
    it(`reports ${expectedType} for ${name}`, async () => {
      publisher = await wellFormedFeed('modified-id');
      publisher.injectFault(fault);
      const log = await validate(publisher.url);

      expect(failuresOf(log).map((failure) => failure.type)).toContain(expectedType);
    });
  }
});
