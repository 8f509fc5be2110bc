import { describe, expect, it } from 'vitest';
import {
  cursorParams,
  normaliseFeedUrl,
  resolveNext,
  sameFeedPath,
  sameFeedUrl,
  unencodedQueryCharacters,
} from '../../../src/sources/rpde/feed-url.js';

describe('feed URL normalisation (last-page detection)', () => {
  it('treats parameter order, percent-encoding, host case, default port and trailing slash as the same URL', () => {
    const base = 'https://example.com/feed?afterTimestamp=1453931925&afterId=%7Bd97f%7D';
    expect(sameFeedUrl(base, 'https://EXAMPLE.com:443/feed/?afterId={d97f}&afterTimestamp=1453931925')).toBe(true);
    expect(sameFeedUrl(base, 'https://example.com/feed?afterId=%7bd97f%7d&afterTimestamp=1453931925')).toBe(true);
  });

  it('tells apart different values, paths, origins and an encoded plus from a space', () => {
    const base = 'https://example.com/feed?afterTimestamp=1&afterId=a%2Bb';
    expect(sameFeedUrl(base, 'https://example.com/feed?afterTimestamp=2&afterId=a%2Bb')).toBe(false);
    expect(sameFeedUrl(base, 'https://example.com/feed?afterTimestamp=1&afterId=a+b')).toBe(false);
    expect(sameFeedUrl(base, 'http://example.com/feed?afterTimestamp=1&afterId=a%2Bb')).toBe(false);
    expect(sameFeedUrl(base, 'https://example.com/other?afterTimestamp=1&afterId=a%2Bb')).toBe(false);
    expect(sameFeedUrl(base, 'https://example.com/feed?afterTimestamp=1&afterId=a%2Bb&x=1')).toBe(false);
  });

  it('normalises to one canonical form', () => {
    expect(normaliseFeedUrl('https://Example.com/a/?b=2&a=1#frag')).toBe('https://example.com/a?a=1&b=2');
  });

  it('resolves a relative next against the page URL and says so', () => {
    const relative = resolveNext('/feed?afterChangeNumber=5', 'https://example.com/feed?afterChangeNumber=1');
    expect(relative?.relative).toBe(true);
    expect(relative?.url.href).toBe('https://example.com/feed?afterChangeNumber=5');
    expect(resolveNext('https://example.com/x', 'https://example.com/feed')?.relative).toBe(false);
    expect(resolveNext('ftp://example.com/x', 'https://example.com/feed')).toBeUndefined();
  });

  it('reads cursor parameters and spots misspelt ones', () => {
    const params = cursorParams(new URL('https://e.com/f?afterTimestamp=1&afterID=x'));
    expect(params.afterTimestamp).toBe('1');
    expect(params.afterId).toBeUndefined();
    expect(params.misspelt).toEqual(['afterID']);
  });

  it('compares origin and path for the off-feed check', () => {
    expect(sameFeedPath(new URL('https://e.com/f?a=1'), new URL('https://e.com/f/?a=2'))).toBe(true);
    expect(sameFeedPath(new URL('https://e.com/f'), new URL('https://e.com/g'))).toBe(false);
  });

  it('finds unencoded reserved characters in a next query', () => {
    expect(unencodedQueryCharacters('https://e.com/f?afterId={abc} d')).toEqual(['{', '}', 'space']);
    expect(unencodedQueryCharacters('https://e.com/f?afterId=%7Babc%7D')).toEqual([]);
  });
});
