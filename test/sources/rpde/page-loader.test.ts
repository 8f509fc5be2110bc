import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { LARGE_MODIFIED_BASE } from '../../../src/simulators/rpde/rpde-feed.js';
import { startRpdePublisher } from '../../../src/simulators/rpde/publisher.js';
import { ConformanceReport } from '../../../src/sources/rpde/conformance.js';
import { FindingLog, replayFindings } from '../../../src/sources/rpde/finding-log.js';
import { decodePage } from '../../../src/sources/rpde/page.js';
import { decodePageAnywhere } from '../../../src/sources/rpde/page-decoder.js';
import { guessNext } from '../../../src/sources/rpde/page-loader.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { tempSqliteStore } from '../../helpers/stores.js';
import { HandWrittenFeed, updated } from './hand-written-feed.js';
import { conformanceCounts, cursorOf, feedSource, harvest, mirrorRows, TestClock } from './harness.js';

const TABLE = 'test_session_series_items';
const STREAM = 'rpde:test:session-series';

describe('guessNext', () => {
  it('reads the first "next" of the text as the loop will store it: verbatim, or resolved when relative', () => {
    expect(guessNext('{"next": "https://a.example/feed?afterId=2", "items": []}', 'https://a.example/feed')).toBe('https://a.example/feed?afterId=2');
    expect(guessNext('{"next":"/feed?afterId=\\u0032&x=%7B"}', 'https://a.example/feed')).toBe('https://a.example/feed?afterId=2&x=%7B');
    expect(guessNext('{"items": [], "license": "x"}', 'https://a.example/feed')).toBeUndefined();
    expect(guessNext('{"next": 3}', 'https://a.example/feed')).toBeUndefined();
    expect(guessNext('{"next": "mailto:x@example.org"}', 'https://a.example/feed')).toBeUndefined();
  });
});

describe('decoding a page on the worker thread', () => {
  it('gives the same items, data texts and findings as decoding in place', async () => {
    const publisher = await startRpdePublisher({ items: 600, pageSize: 500, modifiedBase: LARGE_MODIFIED_BASE });
    try {
      const text = await (await fetch(publisher.url)).text();
      expect(text.length).toBeGreaterThan(64 * 1024);
      const here = new FindingLog();
      const expected = decodePage(text, publisher.url, here);
      const decoded = await decodePageAnywhere(text, publisher.url);
      expect(decoded.error).toBeUndefined();
      expect(decoded.page).toEqual(expected);
      expect(decoded.findings).toEqual(here.entries());
      expect(decoded.findings.map(([check]) => check)).toContain('C18');
    } finally {
      await publisher.close();
    }
  });

  it('hands a page that is not JSON back as an error with its finding, as decoding in place does', async () => {
    const text = `<html>${'x'.repeat(70_000)}</html>`;
    const decoded = await decodePageAnywhere(text, 'https://a.example/feed');
    expect(decoded.error).toMatchObject({ page: true, message: expect.stringMatching(/is not JSON/) as unknown });
    expect(decoded.findings.map(([check]) => check)).toEqual(['C4']);
  });
});

describe('findings logged aside', () => {
  it('replay into the report with their counts and the samples it keeps', () => {
    const log = new FindingLog();
    for (let n = 1; n <= 5; n += 1) log.record('C15', () => `id ${n}`);
    log.record('C28', 'short page', 2);
    const report = new ConformanceReport();
    replayFindings(log.entries(), report);
    expect(report.toFindings()).toMatchObject({
      C15: { count: 5, samples: ['id 1', 'id 2', 'id 3'] },
      C28: { count: 2, samples: ['short page'] },
    });
  });
});

describe('pages requested ahead on a guessed next', () => {
  let feed: HandWrittenFeed;
  let store: SqliteStore;
  let cleanup: () => Promise<void>;
  let http: UndiciHttpClient;

  beforeEach(async () => {
    feed = await HandWrittenFeed.start();
    ({ store, cleanup } = await tempSqliteStore());
    http = createHttpClient({ maxRetries: 0 });
  });

  afterEach(async () => {
    await http.close();
    await cleanup();
    await feed.close();
  });

  it('a wrong guess (a "next" inside an item, written before the page\'s own) costs one request, leaves no finding and ends the guessing', async () => {
    const origin = feed.origin;
    const decoy = (id: string, modified: number) => ({ state: 'updated', kind: 'session', id, modified, data: { next: `${origin}/decoy-${id}` } });
    // Items before next: the first "next" of the text is a decoy's, which answers 404.
    feed.pages = {
      '/feed': { items: [decoy('a', 1), updated('b', 2)], next: `${origin}/feed?afterTimestamp=2&afterId=b`, license: 'x' },
      '/feed?afterTimestamp=2&afterId=b': { items: [decoy('c', 3)], next: `${origin}/feed?afterTimestamp=3&afterId=c`, license: 'x' },
      '/feed?afterTimestamp=3&afterId=c': { items: [], next: `${origin}/feed?afterTimestamp=3&afterId=c`, license: 'x' },
    };
    await harvest(store, feedSource(`${origin}/feed`, new TestClock()), http);
    expect(feed.served.filter((target) => target.startsWith('/decoy'))).toEqual(['/decoy-a']);
    expect(await cursorOf(store, STREAM)).toMatchObject({ atEnd: true });
    expect([...(await mirrorRows(store, TABLE)).keys()].sort()).toEqual(['a', 'b', 'c']);
    const counts = await conformanceCounts(store, STREAM);
    expect(Object.keys(counts).filter((check) => check.startsWith('C1'))).toEqual([]);
  });
});
