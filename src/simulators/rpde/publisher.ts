import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listen } from '../listen.js';
import {
  FaultQueue,
  isTransportFault,
  type FaultOptions,
  type PageFault,
  type RpdeFault,
  type RpdeFaultType,
} from './faults.js';
import { PageCache } from './page-cache.js';
import { CC_BY_4, pageJson, type PageItem } from './page-json.js';
import { RpdeFeed, type FeedPosition, type FeedVersion, type RpdeFeedOptions, type SeedOptions } from './rpde-feed.js';

export interface RpdePublisherOptions extends RpdeFeedOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  readonly host?: string;
  /** Items per page (the spec suggests 500). */
  readonly pageSize?: number;
  /** The feed's path; the feed URL is the origin plus this path with no query. */
  readonly path?: string;
  /** How many generated items the feed starts with. */
  readonly items?: number;
  readonly seed?: SeedOptions;
  readonly license?: string;
  /** How many recent requests `requests` keeps. */
  readonly keepRequests?: number;
  /** Budget for rendered pages kept until the feed changes (a CDN's job); 0 renders every request. */
  readonly pageCacheBytes?: number;
  /**
   * The origin clients reach the feed at, when it is not the server's own (behind a proxy): the
   * `url` and every `next` URL are written with it.
   */
  readonly publicOrigin?: string;
}

interface RenderedPage {
  readonly items: readonly PageItem[];
  readonly next: string;
  readonly lastScanned: FeedVersion | undefined;
  readonly lastPage: boolean;
  readonly body: Buffer;
}

/** One request the publisher answered, for tests that check what a client did. */
export interface PublisherRequest {
  /** The URL as requested (origin + request target, verbatim). */
  readonly url: string;
  readonly host: string | undefined;
  readonly status: number;
  /** The fault that spoilt this response, if any. */
  readonly fault: RpdeFaultType | undefined;
  /** Items shown on the page (0 for non-page responses). */
  readonly items: number;
  /** Whether the page served was the last page (empty, `next` equal to its own URL). */
  readonly lastPage: boolean;
}

export interface RpdePublisher {
  /** The feed URL: the first page, "from the beginning of time". */
  readonly url: string;
  /** The origin its URLs are written with (`publicOrigin` when given). */
  readonly origin: string;
  /** Where the server itself listens. */
  readonly serverOrigin: string;
  readonly feed: RpdeFeed;
  readonly requests: readonly PublisherRequest[];
  /** Spoil the next response(s): see RpdeFault. */
  injectFault(fault: RpdeFault, options?: FaultOptions): void;
  clearFaults(): void;
  /** Stops listening and drops open connections (and slow bodies still being sent). */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
// DOCS scaling-feeds: CDN-friendly TTLs, which the validator checks (as warnings).
const CACHE_PAGE = 'public, max-age=3600';
const CACHE_LAST_PAGE = 'public, max-age=8';
const CHALLENGE_HTML =
  '<!DOCTYPE html><html lang="en"><head><title>Just a moment...</title></head><body>' +
  '<h1>Checking your browser before accessing the feed.</h1><noscript>Enable JavaScript and cookies to continue</noscript>' +
  '</body></html>';

/**
 * An in-memory RPDE 1.0 publisher over real HTTP: both ordering strategies, absolute `next` URLs
 * derived from the last item used to build the page, the last page being empty with `next` equal
 * to its own URL, tombstones, in-stream filtering, and faults on demand. The feed can be changed
 * through `feed` at any moment, also while a client is harvesting it.
 */
export async function startRpdePublisher(options: RpdePublisherOptions = {}): Promise<RpdePublisher> {
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/feeds/session-series';
  const pageSize = options.pageSize ?? 500;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError('pageSize must be a positive integer');
  const license = options.license ?? CC_BY_4;
  const keepRequests = options.keepRequests ?? 10_000;
  const feed = new RpdeFeed(options);
  if (options.items) feed.seed(options.items, options.seed);

  const cache = new PageCache<RenderedPage>(options.pageCacheBytes ?? 256 * 1024 * 1024);
  const faults = new FaultQueue();
  const requests: PublisherRequest[] = [];
  const pendingTimers = new Set<NodeJS.Timeout>();
  let origin = '';
  // Same server, another origin: a client that follows it is seen arriving with another Host.
  let foreignOrigin = '';

  const record = (entry: PublisherRequest): void => {
    requests.push(entry);
    if (requests.length > keepRequests) requests.splice(0, requests.length - keepRequests);
  };

  const nextUrlAfter = (version: FeedVersion): string =>
    feed.strategy === 'modified-id'
      ? `${origin}${path}?afterTimestamp=${version.modified}&afterId=${encodeURIComponent(version.id)}`
      : `${origin}${path}?afterChangeNumber=${version.modified}`;

  const render = (
    items: readonly PageItem[],
    next: string,
    lastScanned: FeedVersion | undefined,
    selfUrl: string,
  ): RenderedPage => ({
    items,
    next,
    lastScanned,
    lastPage: items.length === 0 && next === selfUrl,
    body: Buffer.from(pageJson(next, items, license), 'utf8'),
  });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const target = req.url ?? '/';
    const selfUrl = `${origin}${target}`;
    const requestUrl = new URL(target, origin);
    const base = { url: selfUrl, host: req.headers.host, fault: undefined, items: 0, lastPage: false };
    if (req.method !== 'GET') {
      record({ ...base, status: 405 });
      sendText(res, 405, 'text/plain', 'Method Not Allowed', { allow: 'GET' });
      return;
    }
    if (requestUrl.pathname !== path) {
      record({ ...base, status: 404 });
      sendText(res, 404, JSON_TYPE, JSON.stringify({ error: `no feed at ${requestUrl.pathname}` }));
      return;
    }
    const position = parsePosition(feed, requestUrl.searchParams);
    if (typeof position === 'string') {
      record({ ...base, status: 400 });
      sendText(res, 400, JSON_TYPE, JSON.stringify({ error: position }));
      return;
    }

    feed.purgeExpired();
    let page = cache.get(target, feed.changeCount);
    if (!page) {
      const scan = feed.scan(position, pageSize);
      const items = scan.shown.map((version) => ({ version, modified: version.modified }));
      // The spec: next comes from the last item used for the page, or is the page's own URL if none.
      const next = scan.lastScanned ? nextUrlAfter(scan.lastScanned) : selfUrl;
      page = render(items, next, scan.lastScanned, selfUrl);
      cache.set(target, page);
    }

    const { items: shown, lastScanned } = page;
    const fault = faults.take(requestUrl, (candidate) => pageFaultApplies(candidate, feed, shown, lastScanned));
    if (fault && !isTransportFault(fault)) {
      const items = [...shown];
      const next = spoilPage(fault, { feed, items, next: page.next, selfUrl, lastScanned, origin, foreignOrigin, path });
      page = render(items, next, lastScanned, selfUrl);
    }

    const { body, lastPage } = page;
    const pageHeaders = {
      'content-type': JSON_TYPE,
      'content-length': String(body.length),
      'cache-control': lastPage ? CACHE_LAST_PAGE : CACHE_PAGE,
    };
    const served = { ...base, fault: fault?.type, items: page.items.length, lastPage };

    switch (fault?.type) {
      case 'status': {
        record({ ...served, items: 0, lastPage: false, status: fault.status });
        const extra: Record<string, string> = fault.retryAfter ? { 'retry-after': fault.retryAfter } : {};
        sendText(res, fault.status, 'text/plain; charset=utf-8', `HTTP ${fault.status}`, extra);
        return;
      }
      case 'html':
        record({ ...served, items: 0, lastPage: false, status: 200 });
        sendText(res, 200, 'text/html; charset=utf-8', CHALLENGE_HTML);
        return;
      case 'cutBody': {
        record({ ...served, status: 200 });
        const cut = Math.min(body.length - 1, Math.max(1, fault.afterBytes ?? Math.floor(body.length / 2)));
        res.writeHead(200, pageHeaders);
        res.write(body.subarray(0, cut), () => res.socket?.destroy());
        return;
      }
      case 'slowBody':
        record({ ...served, status: 200 });
        res.writeHead(200, pageHeaders);
        // Headers now, body later: a slow body, not a slow response.
        res.flushHeaders();
        sendSlowly(res, body, fault.chunkBytes ?? 1024, fault.delayMs, pendingTimers);
        return;
      default:
        record({ ...served, status: 200 });
        res.writeHead(200, pageHeaders);
        res.end(body);
    }
  };

  const server = createServer(handle);
  server.on('clientError', (_error, socket) => socket.destroy());
  const listening = await listen(server, options.port, host);
  const hostPart = listening.host;
  origin = options.publicOrigin ?? listening.origin;
  foreignOrigin = `http://${hostPart === 'localhost' ? '127.0.0.1' : 'localhost'}:${listening.port}`;

  return {
    url: `${origin}${path}`,
    origin,
    serverOrigin: listening.origin,
    feed,
    requests,
    injectFault: (fault, faultOptions) => faults.add(fault, faultOptions),
    clearFaults: () => faults.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of pendingTimers) clearTimeout(timer);
        pendingTimers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function pageFaultApplies(
  fault: PageFault,
  feed: RpdeFeed,
  items: readonly PageItem[],
  lastScanned: FeedVersion | undefined,
): boolean {
  switch (fault.type) {
    case 'selfLoop':
    case 'duplicateId':
      return items.length > 0;
    case 'regressingModified':
      return items.length > 0 && regressionTarget(feed, fault.id) !== undefined;
    case 'afterIdOnly':
    case 'afterTimestampOnly':
      return lastScanned !== undefined;
    case 'foreignNext':
    case 'relativeNext':
      return true;
  }
}

interface PageUnderFault {
  readonly feed: RpdeFeed;
  /** Edited in place when the fault adds items. */
  readonly items: PageItem[];
  readonly next: string;
  readonly selfUrl: string;
  readonly lastScanned: FeedVersion | undefined;
  readonly origin: string;
  readonly foreignOrigin: string;
  readonly path: string;
}

/** Puts the fault's defect into the page; returns the `next` URL to serve. */
function spoilPage(fault: PageFault, page: PageUnderFault): string {
  const { feed, items, next, origin, path } = page;
  const lastId = encodeURIComponent(page.lastScanned?.id ?? '');
  switch (fault.type) {
    case 'selfLoop':
      return page.selfUrl;
    case 'afterIdOnly':
      return `${origin}${path}?afterId=${lastId}`;
    case 'afterTimestampOnly':
      return `${origin}${path}?afterTimestamp=${page.lastScanned?.modified ?? 0n}`;
    case 'foreignNext':
      return `${fault.origin ?? page.foreignOrigin}${next.slice(origin.length)}`;
    case 'relativeNext':
      return next.slice(origin.length);
    case 'duplicateId':
      items.splice(1, 0, items[0] as PageItem);
      return next;
    case 'regressingModified': {
      const target = regressionTarget(feed, fault.id) as FeedVersion;
      const stale = JSON.stringify(feed.generateData(target.id, target.revision - 1));
      items.splice(Math.floor(items.length / 2), 0, { version: target, modified: target.modified - 1n, dataJson: stale });
      return next;
    }
  }
}

/** The cursor of a request; a string is the reason it is not acceptable (400). */
function parsePosition(feed: RpdeFeed, params: URLSearchParams): FeedPosition | null | string {
  if (feed.strategy === 'change-number') {
    const changeNumber = params.get('afterChangeNumber');
    if (changeNumber === null) return null;
    if (!/^\d+$/.test(changeNumber)) return `afterChangeNumber must be an integer, got ${JSON.stringify(changeNumber)}`;
    return { afterChangeNumber: BigInt(changeNumber) };
  }
  const timestamp = params.get('afterTimestamp');
  const id = params.get('afterId');
  // The spec's reference query applies its WHERE clause only when both parameters are given.
  if (timestamp === null || id === null) return null;
  if (!/^\d+$/.test(timestamp)) return `afterTimestamp must be an integer, got ${JSON.stringify(timestamp)}`;
  return { afterModified: BigInt(timestamp), afterId: id };
}

function regressionTarget(feed: RpdeFeed, id: string | undefined): FeedVersion | undefined {
  if (id === undefined) return feed.head();
  const version = feed.get(id);
  return version && version.state === 'updated' && !version.hidden ? version : undefined;
}

function sendText(
  res: ServerResponse,
  status: number,
  contentType: string,
  text: string,
  extraHeaders: Record<string, string> = {},
): void {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(body.length), ...extraHeaders });
  res.end(body);
}

function sendSlowly(
  res: ServerResponse,
  body: Buffer,
  chunkBytes: number,
  delayMs: number,
  timers: Set<NodeJS.Timeout>,
): void {
  let offset = 0;
  const step = (): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (res.destroyed) return;
      const end = Math.min(body.length, offset + Math.max(1, chunkBytes));
      const chunk = body.subarray(offset, end);
      offset = end;
      if (offset >= body.length) res.end(chunk);
      else res.write(chunk, step);
    }, delayMs);
    timers.add(timer);
  };
  step();
}
