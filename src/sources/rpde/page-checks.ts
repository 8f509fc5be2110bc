import type { ConformanceReport } from './conformance.js';
import { cursorParams, strategyOf, unencodedQueryCharacters, type CursorParams } from './feed-url.js';
import { isIntegerKey } from './modified-key.js';
import type { RpdeItem } from './page.js';

/** The position of an item in the feed's order: its modified key, then its id. */
export interface ItemPosition {
  readonly modified: string;
  readonly id: string;
}

export interface PageFacts {
  /** The URL the page was requested with. */
  readonly url: URL;
  /** `next` as written, and resolved. */
  readonly rawNext: string;
  readonly next: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly items: readonly RpdeItem[];
  readonly itemCount: number;
  readonly isLast: boolean;
}

/** How many ids one run remembers for the cross-page checks; beyond it they are not checked. */
const SEEN_LIMIT = 100_000;

/**
 * The checks that compare a page with its URL, its `next`, its neighbours in the feed and the
 * items seen earlier in the run (C3, C19-C26, C28, C29), and what the store refused (C26). They keep what they need between pages;
 * a new instance per run, seeded with the last position of the previous run.
 */
export class FeedChecks {
  private readonly seen = new Map<string, { modified: string; kind: string | null }>();
  private previousCount: number | undefined;
  /** Items of the last checked page already reported (C26) as older than a version seen in this run. */
  private regressedOnPage = 0;

  constructor(
    private readonly report: ConformanceReport,
    /** The last item of the last page with items, from the cursor. */
    private last: ItemPosition | undefined,
    /** The ordering strategy of the feed's `next` URLs so far. */
    private strategy: 'timestamp' | 'changeNumber' | undefined,
  ) {}

  get lastPosition(): ItemPosition | undefined {
    return this.last;
  }

  get feedStrategy(): 'timestamp' | 'changeNumber' | undefined {
    return this.strategy;
  }

  /**
   * Records what is wrong with the page and returns its items with duplicate ids collapsed to the
   * newest (a store applying both in one statement may refuse, and the newest wins anyway).
   */
  check(page: PageFacts): RpdeItem[] {
    this.regressedOnPage = 0;
    this.checkCacheControl(page);
    this.checkNextParams(page);
    const items = newestPerId(page.items);
    if (page.items.length > 0) {
      const repeatsCursor = this.checkRequestCursor(page);
      this.checkOrder(page, repeatsCursor);
      this.checkAgainstSeen(page, items);
    }
    if (page.itemCount > 0 && this.previousCount !== undefined && this.previousCount < 500) {
      this.report.record('C28', `a page with ${this.previousCount} items before ${page.url.href}`);
    }
    if (page.itemCount > 0) this.previousCount = page.itemCount;
    const lastItem = page.items.at(-1);
    if (lastItem) this.last = positionOf(lastItem);
    return items;
  }

  /**
   * C26 against the stored copies, which only the store sees: its newer-wins guard writes every
   * item of the page except those older than their stored version. Those already reported as
   * older than a version seen earlier in this run are not counted twice. Returns how many were refused.
   */
  storeRefused(page: URL, offered: number, written: number): number {
    const refused = Math.max(0, offered - written);
    const unreported = refused - this.regressedOnPage;
    if (unreported > 0) {
      this.report.record('C26', `${unreported} of ${offered} items at ${page.href} are older than their stored copy: not applied`, unreported);
    }
    return refused;
  }

  private checkCacheControl(page: PageFacts): void {
    if (page.itemCount === 0 && !page.isLast) return;
    const header = page.headers['cache-control'] ?? '';
    const directives = header.toLowerCase().split(',').map((part) => part.trim());
    const isPublic = directives.includes('public');
    const maxAgeText = directives.find((part) => part.startsWith('max-age='))?.slice('max-age='.length);
    const maxAge = maxAgeText !== undefined && /^\d+$/.test(maxAgeText) ? Number(maxAgeText) : undefined;
    const ok = page.isLast
      ? isPublic && maxAge !== undefined && maxAge <= 8
      : isPublic && maxAge !== undefined && maxAge >= 3600;
    if (!ok) {
      this.report.record('C3', `${page.isLast ? 'last page' : 'page'} ${page.url.href}: Cache-Control ${JSON.stringify(header)}`);
    }
  }

  private checkNextParams(page: PageFacts): void {
    const params = cursorParams(page.next);
    const at = `next ${page.rawNext}`;
    if (params.misspelt.length > 0) this.report.record('C19', `${at}: misspelt ${params.misspelt.join(', ')}`);
    if ((params.afterTimestamp === undefined) !== (params.afterId === undefined)) {
      this.report.record('C19', `${at}: ${params.afterId === undefined ? 'afterTimestamp without afterId' : 'afterId without afterTimestamp'}`);
    }
    if (params.afterChangeNumber !== undefined && !/^-?\d+$/.test(params.afterChangeNumber)) {
      this.report.record('C19', `${at}: afterChangeNumber is not an integer`);
    }
    const strategy = strategyOf(params);
    if (strategy !== undefined) {
      if (this.strategy !== undefined && strategy !== this.strategy) {
        this.report.record('C19', `${at}: ${strategy} parameters after ${this.strategy} ones`);
      }
      this.strategy = strategy;
    }
    const unencoded = unencodedQueryCharacters(page.rawNext);
    if (unencoded.length > 0) this.report.record('C29', `${at}: ${unencoded.join(' ')}`);
    const lastItem = page.items.at(-1);
    if (lastItem && page.items.length === page.itemCount) this.checkNextMatchesLastItem(params, lastItem, at);
  }

  /** C20 is a warning only: with in-stream filtering the last item used may not be in `items`. */
  private checkNextMatchesLastItem(params: CursorParams, last: RpdeItem, at: string): void {
    if (params.afterChangeNumber !== undefined) {
      if (params.afterChangeNumber !== last.modified.raw) {
        this.report.record('C20', `${at}: afterChangeNumber differs from the last item's modified ${last.modified.raw}`);
      }
    } else if (params.afterTimestamp !== undefined && params.afterId !== undefined) {
      if (params.afterTimestamp !== last.modified.raw || params.afterId !== last.id) {
        this.report.record('C20', `${at}: differs from the last item (modified ${last.modified.raw}, id ${last.id})`);
      }
    }
  }

  /** C23 against the request URL's cursor; true when it was recorded. */
  private checkRequestCursor(page: PageFacts): boolean {
    const first = page.items[0] as RpdeItem;
    const params = cursorParams(page.url);
    const repeats =
      params.afterChangeNumber !== undefined
        ? params.afterChangeNumber === first.modified.raw
        : params.afterTimestamp === first.modified.raw && params.afterId === first.id;
    if (repeats) this.report.record('C23', `first item id ${first.id} modified ${first.modified.raw} equals the cursor of ${page.url.href}`);
    return repeats;
  }

  /**
   * C21 compares the first item with the previous page's last one, C22 the items of the page with
   * each other. A first item repeating the previous page's last one is C23 too, unless already
   * recorded against the request cursor (usually the same item: one fault, counted once).
   */
  private checkOrder(page: PageFacts, repeatsCursor: boolean): void {
    const ids = new Set<string>();
    page.items.forEach((item, i) => {
      if (ids.has(item.id)) this.report.record('C24', `id ${item.id} again at items[${item.index}] of ${page.url.href}`);
      ids.add(item.id);
      const before = i === 0 ? this.last : positionOf(page.items[i - 1] as RpdeItem);
      if (before === undefined) return;
      const check = i === 0 ? 'C21' : 'C22';
      const where = () => (i === 0 ? "the previous page's last item" : `items[${(page.items[i - 1] as RpdeItem).index}]`);
      if (isIntegerKey(item.modified.key) !== isIntegerKey(before.modified)) {
        // Not an ordering fault to report as C21/C22: the two forms have no common order.
        this.report.record('C26:form', `id ${item.id} modified ${item.modified.raw} after ${where()} (id ${before.id}) had a modified of the other form, ${page.url.href}`);
      } else if (item.modified.key < before.modified) {
        this.report.record(check, `id ${item.id} modified ${item.modified.raw} comes after ${where()} (id ${before.id}), ${page.url.href}`);
      } else if (item.modified.key === before.modified && item.id < before.id) {
        this.report.record(`${check}:id`, `id ${item.id} comes after ${where()} (id ${before.id}) at equal modified ${item.modified.raw}, ${page.url.href}`);
      } else if (i === 0 && !repeatsCursor && item.modified.key === before.modified && item.id === before.id) {
        this.report.record('C23', `first item id ${item.id} repeats the previous page's last item, ${page.url.href}`);
      }
    });
  }

  /** An id seen again in one run is normal only with a greater `modified` (it was updated meanwhile). */
  private checkAgainstSeen(page: PageFacts, items: readonly RpdeItem[]): void {
    const cacheable = (page.headers['cache-control'] ?? '').toLowerCase().includes('public');
    for (const item of items) {
      const before = this.seen.get(item.id);
      if (before !== undefined) {
        if (item.modified.key < before.modified) {
          this.regressedOnPage += 1;
          this.report.record('C26', `id ${item.id}: modified ${item.modified.raw} is older than one seen earlier in this run, at ${page.url.href}`);
        } else if (item.modified.key === before.modified) {
          this.report.record(cacheable ? 'C25:cached' : 'C25', `id ${item.id} (modified ${item.modified.raw}) seen twice, again at ${page.url.href}`);
        }
        if (before.kind !== null && item.kind !== null && before.kind !== item.kind) {
          this.report.record('C14:changed', `id ${item.id}: kind ${item.kind} after ${before.kind} at ${page.url.href}`);
        }
      }
      if (before !== undefined || this.seen.size < SEEN_LIMIT) {
        const newest = before !== undefined && before.modified > item.modified.key ? before.modified : item.modified.key;
        this.seen.set(item.id, { modified: newest, kind: item.kind ?? before?.kind ?? null });
      }
    }
  }
}

function positionOf(item: RpdeItem): ItemPosition {
  return { modified: item.modified.key, id: item.id };
}

/** Keeps, per id, the item with the greatest modified (the later one on a tie), in page order. */
export function newestPerId(items: readonly RpdeItem[]): RpdeItem[] {
  const keep = new Map<string, RpdeItem>();
  let duplicates = false;
  for (const item of items) {
    const kept = keep.get(item.id);
    if (kept !== undefined) duplicates = true;
    if (kept === undefined || item.modified.key >= kept.modified.key) keep.set(item.id, item);
  }
  if (!duplicates) return [...items];
  return items.filter((item) => keep.get(item.id) === item);
}
