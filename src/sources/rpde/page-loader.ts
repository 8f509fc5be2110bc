import { FindingLog, type LoggedFinding } from './finding-log.js';
import { resolveNext, sameFeedUrl } from './feed-url.js';
import { fetchPage, type FetchedPage, type FetchPageOptions } from './fetch-page.js';
import { decodePageAnywhere, type DecodedPage } from './page-decoder.js';

/** A page as the harvest loop takes it: fetched and decoded, or why not, with its findings kept apart. */
export interface LoadedPage {
  readonly fetched?: FetchedPage;
  readonly fetchError?: unknown;
  readonly decoded?: DecodedPage;
  /** What fetching it showed (C1, C2, C36...); decoding findings are in `decoded`. */
  readonly findings: readonly LoggedFinding[];
  /** The `next` guessed from its text and loaded ahead, if any: dropped unless the decoded `next` agrees. */
  readonly guess?: string | undefined;
}

/** Pages loaded ahead of the one the loop takes, at most: one by the loop's own request, one guessed. */
const MAX_AHEAD = 2;

/**
 * Loads feed pages ahead of the harvest loop. A page's `next` is known only once it is decoded, and
 * decoding is most of a harvest's CPU time; so as soon as a page's text arrives its `next` is
 * guessed from the text (the first `"next": "..."`), and that page is requested and decoded while
 * the loop still decodes, checks and commits the current one. The loop takes a guessed page only if
 * the decoded `next` names it; a wrong guess costs one request and leaves no finding behind. Only
 * the feed's allowed origins are ever requested (the HTTP client refuses others before sending).
 */
export class PageLoader {
  private readonly ahead = new Map<string, Promise<LoadedPage>>();
  /** Guesses not requested yet because MAX_AHEAD pages were already ahead. */
  private readonly deferred: string[] = [];
  /** Pages loaded ahead and then not taken, until they settle: settle() waits for them too. */
  private readonly dropped = new Set<Promise<LoadedPage>>();
  /** Off after a wrong guess: this feed writes another "next" first, so guessing only wastes requests. */
  private guessing = true;

  /** `unread` tells whether a guessed URL is worth requesting: a page read already in this run is a cycle. */
  constructor(
    private readonly options: FetchPageOptions,
    private readonly unread: (url: string) => boolean,
  ) {}

  /** The page at `url`: the one loaded ahead if there is one, else loaded now. Never rejects. */
  take(url: string): Promise<LoadedPage> {
    const loading = this.ahead.get(url) ?? this.load(url);
    this.ahead.delete(url);
    this.startDeferred();
    return loading;
  }

  /** Loads `url` ahead (the loop's own next page), unless it is already. */
  request(url: string): void {
    if (!this.ahead.has(url)) this.ahead.set(url, this.load(url));
  }

  /** Forgets every page loaded ahead but `keep`, as they followed a wrong guess, and guesses no more. */
  dropAllBut(keep: string): void {
    this.guessing = false;
    for (const [url, loading] of this.ahead) {
      if (url === keep) continue;
      this.ahead.delete(url);
      this.dropped.add(loading);
      void loading.finally(() => this.dropped.delete(loading));
    }
    this.deferred.length = 0;
  }

  /** Waits for every request still in flight, so that none outlives the run. */
  async settle(): Promise<void> {
    this.deferred.length = 0;
    await Promise.allSettled([...this.ahead.values(), ...this.dropped]);
  }

  private load(url: string): Promise<LoadedPage> {
    const findings = new FindingLog();
    const loading = fetchPage(url, { ...this.options, report: findings }).then(
      async (fetched) => {
        const guess = this.guessAhead(fetched, url);
        const decoded = await decodePageAnywhere(fetched.text, fetched.url, this.options.limits.itemsPerPage);
        return { fetched, decoded, findings: findings.entries(), guess };
      },
      (fetchError: unknown) => ({ fetchError, findings: findings.entries() }),
    );
    // A page loaded ahead and then dropped is never awaited but by settle(): a failure of ours
    // while decoding it must not surface as an unhandled rejection meanwhile.
    loading.catch(() => undefined);
    return loading;
  }

  private guessAhead(fetched: FetchedPage, url: string): string | undefined {
    if (!this.guessing || this.options.signal?.aborted) return undefined;
    const guess = guessNext(fetched.text, fetched.url);
    // The last page names itself: nothing follows it.
    if (guess === undefined || sameFeedUrl(new URL(guess), new URL(url)) || sameFeedUrl(new URL(guess), new URL(fetched.url))) return undefined;
    if (!this.unread(guess)) return undefined;
    if (!this.ahead.has(guess) && !this.deferred.includes(guess)) {
      this.deferred.push(guess);
      this.startDeferred();
    }
    return guess;
  }

  private startDeferred(): void {
    while (this.deferred.length > 0 && this.ahead.size < MAX_AHEAD) {
      const url = this.deferred.shift() as string;
      if (!this.ahead.has(url)) this.ahead.set(url, this.load(url));
    }
  }
}

const NEXT_KEY = /^"next"\s*:\s*("(?:[^"\\]|\\.)*")/;

/**
 * The page's `next` as the loop will store it (verbatim, or resolved if relative), read from the
 * first `"next"` key of the text without parsing the page; undefined when there is none usable.
 */
export function guessNext(text: string, pageUrl: string): string | undefined {
  const at = text.indexOf('"next"');
  if (at < 0) return undefined;
  const match = NEXT_KEY.exec(text.slice(at, at + 8192));
  if (match === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(match[1] as string);
  } catch {
    return undefined;
  }
  if (typeof value !== 'string' || value === '') return undefined;
  const resolved = resolveNext(value, pageUrl);
  if (resolved === undefined) return undefined;
  return resolved.relative ? resolved.url.href : value;
}
