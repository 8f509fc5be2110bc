import { describe, expect, it } from 'vitest';
import { createHttpClient } from '../../../src/http/undici-client.js';
import { defaultTableStart, nameFeeds } from '../../../src/sources/rpde/feed-names.js';
import { rpdeKind, rpdeOptions } from '../../../src/sources/rpde/kind.js';
import { memoryLogger } from '../../helpers/silent-log.js';

describe('feed names and table prefixes', () => {
  it('names feeds after the last path segment', () => {
    const named = nameFeeds('leisure', [
      { url: 'https://www.example.com/feeds/session-series' },
      { url: 'https://www.example.com/feeds/scheduled-sessions' },
    ]);
    expect(named.map((feed) => [feed.name, feed.prefix])).toEqual([
      ['session-series', 'leisure_session_series'],
      ['scheduled-sessions', 'leisure_scheduled_sessions'],
    ]);
  });

  it('adds path segments, then the host, where names would collide, whatever the order', () => {
    const urls = ['https://a.example/api/v1/sessions', 'https://a.example/api/v2/sessions', 'https://b.example/api/v1/sessions'];
    const forward = nameFeeds('j', urls.map((url) => ({ url })));
    const backward = nameFeeds('j', [...urls].reverse().map((url) => ({ url })));
    const byUrl = (list: typeof forward) => Object.fromEntries(list.map((feed) => [feed.url, feed.name]));
    expect(byUrl(forward)).toEqual(byUrl(backward));
    expect(new Set(forward.map((feed) => feed.name)).size).toBe(3);
    expect(byUrl(forward)['https://a.example/api/v2/sessions']).toBe('v2-sessions');
  });

  it('lists the same URL once and keeps a configured prefix', () => {
    const named = nameFeeds('j', [
      { url: 'https://e.com/feed', prefix: 'mine' },
      { url: 'https://E.com/feed/' },
    ]);
    expect(named).toEqual([{ index: 0, url: 'https://e.com/feed', name: 'feed', prefix: 'mine' }]);
  });

  it('refuses two feeds of a job on one table, when the job expands', async () => {
    const options = rpdeOptions.parse({ feeds: [{ url: 'https://e.com/a', prefix: 'same' }, { url: 'https://e.com/b', prefix: 'same' }] });
    const { log } = memoryLogger('silent');
    const http = createHttpClient({ maxRetries: 0 });
    try {
      await expect(rpdeKind.expand({ id: 'j', kind: 'rpde' }, options, { http, log, signal: new AbortController().signal })).rejects.toThrow(
        'job j: feed https://e.com/b would write table same_items, which feed https://e.com/a writes too; give one of them another table prefix',
      );
    } finally {
      await http.close();
    }
  });

  it('starts the table of every feed named by default as the job\'s default table start does', () => {
    for (const job of ['leisure', '2024', 'a-b', 'x'.repeat(63)]) {
      const start = defaultTableStart(job);
      const feeds = nameFeeds(job, [{ url: 'https://e.com/feeds/sessions' }, { url: `https://e.com/${'y'.repeat(90)}` }, { url: 'https://e.com/a-b_c' }]);
      for (const feed of feeds) expect(`${feed.prefix}_items`.startsWith(start), `${job} ${feed.prefix}`).toBe(true);
      expect(start.length).toBeGreaterThan(0);
    }
  });

  it('makes a valid identifier from a job id starting with a digit and from a long name', () => {
    const [feed] = nameFeeds('2024', [{ url: `https://e.com/${'x'.repeat(80)}` }]);
    expect(feed?.prefix).toMatch(/^rpde_2024_x+_[0-9a-f]{8}$/);
    expect(`${feed?.prefix}_items`.length).toBeLessThanOrEqual(63);
  });
});
