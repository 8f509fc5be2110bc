import { isSafeNumber, parse } from 'lossless-json';
import type { JsonValue } from '../../../src/core/json.js';

export interface RawItem {
  readonly state: string;
  readonly kind: string;
  readonly id: string;
  readonly modified: bigint;
  readonly data?: JsonValue;
}

export interface ReadPage {
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly next: string;
  readonly items: readonly RawItem[];
  readonly license: string;
}

/** Fetches one page and parses it without losing `modified` values above 2^53. */
export async function readPage(url: string): Promise<ReadPage> {
  const response = await fetch(url);
  const text = await response.text();
  const body = parse(text, null, (value) => (isSafeNumber(value) ? Number(value) : BigInt(value))) as {
    next: string;
    items: (Omit<RawItem, 'modified'> & { modified: number | bigint })[];
    license: string;
  };
  return {
    url,
    status: response.status,
    headers: response.headers,
    text,
    next: body.next,
    items: body.items.map((item) => ({ ...item, modified: BigInt(item.modified) })),
    license: body.license,
  };
}

export function isLastPage(page: ReadPage): boolean {
  return page.items.length === 0 && page.next === page.url;
}

export interface MirrorEntry {
  readonly state: string;
  readonly kind: string;
  readonly modified: bigint;
  readonly data: JsonValue | undefined;
}

/**
 * The smallest correct consumer: follows `next` to the last page, keeping the newest version of
 * each item by `modified`. `beforeEachPage` runs between requests, where a test mutates the feed.
 */
export async function harvestToLastPage(
  startUrl: string,
  mirror: Map<string, MirrorEntry>,
  beforeEachPage: (pageIndex: number) => void = () => undefined,
  maxPages = 1000,
): Promise<{ pages: ReadPage[]; lastUrl: string }> {
  const pages: ReadPage[] = [];
  let url = startUrl;
  for (let index = 0; index < maxPages; index += 1) {
    beforeEachPage(index);
    const page = await readPage(url);
    if (page.status !== 200) throw new Error(`page ${url} answered ${page.status}`);
    pages.push(page);
    for (const item of page.items) {
      const stored = mirror.get(item.id);
      if (stored && stored.modified > item.modified) continue;
      mirror.set(item.id, { state: item.state, kind: item.kind, modified: item.modified, data: item.data });
    }
    if (isLastPage(page)) return { pages, lastUrl: url };
    url = page.next;
  }
  throw new Error(`no last page after ${maxPages} pages`);
}

export interface LiveEntry {
  readonly kind: string;
  readonly modified: bigint;
  readonly data: JsonValue | undefined;
}

/** The live part of a mirror, in the shape of `RpdeFeed.liveItems()`, for comparison. */
export function liveOf(mirror: Map<string, MirrorEntry>): Map<string, LiveEntry> {
  const live = new Map<string, LiveEntry>();
  for (const [id, entry] of mirror) {
    if (entry.state === 'updated') live.set(id, { kind: entry.kind, modified: entry.modified, data: entry.data });
  }
  return live;
}
