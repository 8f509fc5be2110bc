import { describe, expect, it } from 'vitest';
import { nameFeeds } from '../../../src/sources/rpde/feed-names.js';

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

  it('lists the same URL once, keeps a configured prefix and refuses two feeds on one table', () => {
    const named = nameFeeds('j', [
      { url: 'https://e.com/feed', prefix: 'mine' },
      { url: 'https://E.com/feed/' },
    ]);
    expect(named).toEqual([{ url: 'https://e.com/feed', name: 'feed', prefix: 'mine' }]);
    expect(() =>
      nameFeeds('j', [
        { url: 'https://e.com/a', prefix: 'same' },
        { url: 'https://e.com/b', prefix: 'same' },
      ]),
    ).toThrow(/share the table prefix/);
  });

  it('makes a valid identifier from a job id starting with a digit and from a long name', () => {
    const [feed] = nameFeeds('2024', [{ url: `https://e.com/${'x'.repeat(80)}` }]);
    expect(feed?.prefix).toMatch(/^rpde_2024_x+_[0-9a-f]{8}$/);
    expect(`${feed?.prefix}_items`.length).toBeLessThanOrEqual(63);
  });
});
