/**
 * URL rules of RPDE paging. `next` is persisted verbatim, but deciding "is this the last page?"
 * needs a comparison that tolerates the same URL spelt differently (parameter order, `%7B` vs
 * `{`, host case, default port, a trailing slash): an exact comparison turns a publisher's
 * re-rendered last-page URL into a hot loop (docs/rpde.md, "Paging and the last page").
 */

export interface ResolvedNext {
  readonly url: URL;
  /** `next` was not an absolute URL and was resolved against the page URL (C6). */
  readonly relative: boolean;
}

/** Resolves `next` against the page it came from; undefined when it is not a usable http(s) URL. */
export function resolveNext(next: string, pageUrl: string): ResolvedNext | undefined {
  let relative = false;
  let url: URL;
  try {
    url = new URL(next);
  } catch {
    try {
      url = new URL(next, pageUrl);
      relative = true;
    } catch {
      return undefined;
    }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return { url, relative };
}

/** A canonical form: origin, decoded path without trailing slash, decoded parameters sorted. */
export function normaliseFeedUrl(url: URL | string): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  const params = [...parsed.searchParams.entries()].sort(([ak, av], [bk, bv]) => compare(ak, bk) || compare(av, bv));
  return `${parsed.origin}${normalisedPath(parsed)}?${params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`;
}

export function sameFeedUrl(a: URL | string, b: URL | string): boolean {
  return normaliseFeedUrl(a) === normaliseFeedUrl(b);
}

/** Same origin and same (normalised) path: `next` stays on the feed (C7 otherwise). */
export function sameFeedPath(a: URL, b: URL): boolean {
  return a.origin === b.origin && normalisedPath(a) === normalisedPath(b);
}

function normalisedPath(url: URL): string {
  const path = url.pathname
    .split('/')
    .map((segment) => safeDecode(segment).replaceAll('/', '%2F'))
    .join('/')
    .replace(/\/+$/, '');
  return path || '/';
}

export interface CursorParams {
  readonly afterTimestamp?: string;
  readonly afterId?: string;
  readonly afterChangeNumber?: string;
  /** Names that look like a cursor parameter in the wrong case (`afterID`, `aftertimestamp`). */
  readonly misspelt: readonly string[];
}

const CURSOR_NAMES = ['afterTimestamp', 'afterId', 'afterChangeNumber'] as const;

export function cursorParams(url: URL): CursorParams {
  const params: { afterTimestamp?: string; afterId?: string; afterChangeNumber?: string; misspelt: string[] } = {
    misspelt: [],
  };
  for (const [name, value] of url.searchParams) {
    const exact = CURSOR_NAMES.find((known) => known === name);
    if (exact) {
      params[exact] = value;
    } else if (CURSOR_NAMES.some((known) => known.toLowerCase() === name.toLowerCase())) {
      params.misspelt.push(name);
    }
  }
  return params;
}

/** Which ordering strategy a page URL's parameters use, if any. */
export function strategyOf(params: CursorParams): 'timestamp' | 'changeNumber' | undefined {
  if (params.afterChangeNumber !== undefined) return 'changeNumber';
  if (params.afterTimestamp !== undefined || params.afterId !== undefined) return 'timestamp';
  return undefined;
}

/** Characters that must be percent-encoded in a query but sometimes are not (C29). */
export function unencodedQueryCharacters(rawNext: string): string[] {
  const queryStart = rawNext.indexOf('?');
  if (queryStart === -1) return [];
  const found = new Set<string>();
  for (const char of rawNext.slice(queryStart + 1)) {
    if (char === ' ' || char === '{' || char === '}' || char === '|' || char === '"' || char === '<' || char === '>' || char === '^' || char === '`' || char === '#') {
      found.add(char === ' ' ? 'space' : char);
    }
  }
  return [...found];
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
