import type { Logger } from 'pino';
import { isRecord } from '../../core/json.js';
import type { HttpClient, HttpResponse, ResponseLimits } from '../../http/client.js';
import { normaliseFeedUrl } from './feed-url.js';

/**
 * Feed discovery (docs/rpde.md, "Discovery"): a data catalog lists catalogs (`hasPart`) and dataset
 * sites (`dataset`); a dataset site carries JSON-LD (raw, or in a `<script type="application/ld+json">`
 * of its HTML page) whose `distribution` lists the feeds, RPDE ones with the encodingFormat
 * `application/vnd.openactive.rpde+json`. Catalogs may nest, repeat and refer to each other: every
 * document is read once, every feed listed once.
 */
export interface DiscoveredFeed {
  /** The feed's `contentUrl`. */
  readonly url: string;
  /** The dataset site that lists it. */
  readonly dataset: string;
  readonly additionalType: string | undefined;
  readonly name: string | undefined;
}

export interface DiscoveryResult {
  readonly feeds: DiscoveredFeed[];
  /** Documents that could not be read or used, and distributions left out, for the log. */
  readonly problems: string[];
}

export interface DiscoveryContext {
  readonly http: HttpClient;
  readonly signal: AbortSignal;
  readonly log?: Logger;
  /** Bounds on each document read (docs/limits.md: documentBytes). */
  readonly limits?: ResponseLimits;
}

export interface DiscoveryStart {
  readonly datasetSite?: string | undefined;
  readonly dataCatalog?: string | undefined;
}

const RPDE_FORMAT = 'application/vnd.openactive.rpde+json';
const ACCEPT = 'application/ld+json, application/json;q=0.9, text/html;q=0.8';
/** Bounds a hostile or runaway catalog tree. */
const MAX_DOCUMENTS = 2_000;
const MAX_DEPTH = 8;
const REDIRECTS = [301, 302, 303, 307, 308];
const MAX_REDIRECTS = 5;

interface Pending {
  readonly url: string;
  readonly depth: number;
}

export async function discoverFeeds(start: DiscoveryStart, ctx: DiscoveryContext): Promise<DiscoveryResult> {
  const roots = [start.dataCatalog, start.datasetSite].filter((url): url is string => url !== undefined);
  if (roots.length === 0) throw new Error('discovery needs a dataCatalog or a datasetSite URL');
  const feeds: DiscoveredFeed[] = [];
  const problems: string[] = [];
  const visited = new Set<string>();
  const datasetIds = new Set<string>();
  const feedUrls = new Set<string>();
  const queue: Pending[] = roots.map((url) => ({ url, depth: 0 }));

  for (let read = 0; queue.length > 0; ) {
    const { url, depth } = queue.shift() as Pending;
    const key = normaliseFeedUrl(url);
    if (visited.has(key)) continue;
    visited.add(key);
    if (read >= MAX_DOCUMENTS) {
      problems.push(`more than ${MAX_DOCUMENTS} documents: ${url} and later ones not read`);
      break;
    }
    read += 1;
    let nodes: Record<string, unknown>[];
    try {
      nodes = await fetchJsonLd(url, ctx, visited);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      const message = `${url}: ${(error as Error).message}`;
      // Without its root there is nothing to expand; a broken leaf only loses its own feeds.
      if (depth === 0) throw new Error(`feed discovery failed at ${message}`, { cause: error });
      problems.push(message);
      ctx.log?.warn({ url, err: (error as Error).message }, 'RPDE discovery: document not usable, skipped');
      continue;
    }
    for (const node of nodes) {
      if (hasType(node, 'DataCatalog')) {
        for (const link of [...links(node['hasPart'], url), ...links(node['dataset'], url)]) {
          if (depth + 1 > MAX_DEPTH) problems.push(`${link}: deeper than ${MAX_DEPTH} catalogs, not read`);
          else queue.push({ url: link, depth: depth + 1 });
        }
        // A catalog may embed dataset descriptions instead of linking them.
        for (const embedded of asArray(node['dataset']).filter(isRecord)) {
          if (hasType(embedded, 'Dataset') && embedded['distribution'] !== undefined) {
            collectDataset(embedded, url, { feeds, problems, datasetIds, feedUrls });
          }
        }
      }
      if (hasType(node, 'Dataset')) collectDataset(node, url, { feeds, problems, datasetIds, feedUrls });
    }
  }
  return { feeds, problems };
}

interface Collected {
  readonly feeds: DiscoveredFeed[];
  readonly problems: string[];
  readonly datasetIds: Set<string>;
  readonly feedUrls: Set<string>;
}

function collectDataset(dataset: Record<string, unknown>, documentUrl: string, into: Collected): void {
  const id = typeof dataset['@id'] === 'string' ? dataset['@id'] : documentUrl;
  const datasetKey = safeNormalise(id) ?? id;
  if (into.datasetIds.has(datasetKey)) return;
  into.datasetIds.add(datasetKey);
  for (const distribution of asArray(dataset['distribution'])) {
    if (!isRecord(distribution)) continue;
    const contentUrl = distribution['contentUrl'] ?? distribution['url'];
    const format = distribution['encodingFormat'];
    if (typeof contentUrl !== 'string') {
      into.problems.push(`${documentUrl}: a distribution without contentUrl`);
      continue;
    }
    if (typeof format === 'string' && !format.toLowerCase().startsWith(RPDE_FORMAT)) continue;
    if (format === undefined) into.problems.push(`${documentUrl}: ${contentUrl} has no encodingFormat; taken as RPDE`);
    let absolute: string;
    try {
      absolute = new URL(contentUrl, documentUrl).href;
    } catch {
      into.problems.push(`${documentUrl}: contentUrl ${JSON.stringify(contentUrl)} is not a URL`);
      continue;
    }
    if (!/^https?:/.test(absolute)) continue;
    const feedKey = normaliseFeedUrl(absolute);
    if (into.feedUrls.has(feedKey)) continue;
    into.feedUrls.add(feedKey);
    into.feeds.push({
      url: absolute,
      dataset: id,
      additionalType: typeof distribution['additionalType'] === 'string' ? distribution['additionalType'] : undefined,
      name:
        typeof distribution['identifier'] === 'string'
          ? distribution['identifier']
          : typeof distribution['name'] === 'string'
            ? distribution['name']
            : undefined,
    });
  }
}

/** The JSON-LD nodes of a document: the JSON itself, or every ld+json block of an HTML page. */
async function fetchJsonLd(url: string, ctx: DiscoveryContext, visited: Set<string>): Promise<Record<string, unknown>[]> {
  const response = await getFollowingRedirects(url, ctx, visited);
  if (response === undefined) return [];
  const text = await response.text();
  const contentType = (response.headers['content-type'] ?? '').toLowerCase();
  const looksHtml = contentType.includes('html') || /^\s*</.test(text);
  const blocks = looksHtml ? scriptBlocks(text) : [text];
  if (blocks.length === 0) throw new Error('an HTML page without a JSON-LD script block');
  const nodes: Record<string, unknown>[] = [];
  const errors: string[] = [];
  for (const block of blocks) {
    try {
      nodes.push(...flatten(JSON.parse(block) as unknown));
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  if (nodes.length === 0) throw new Error(`no usable JSON-LD (${errors.join('; ') || 'no objects'})`);
  return nodes;
}

/**
 * Catalogs list many dataset sites as http:// URLs that redirect to https://. The HTTP client
 * never follows redirects (a feed's `next` must not leave its origin silently); discovery may.
 * Undefined when the redirect leads to a document already read.
 */
async function getFollowingRedirects(
  url: string,
  ctx: DiscoveryContext,
  visited: Set<string>,
): Promise<HttpResponse | undefined> {
  let current = url;
  for (let hop = 0; ; hop += 1) {
    const response = await ctx.http.request(current, {
      headers: { accept: ACCEPT },
      signal: ctx.signal,
      acceptStatus: REDIRECTS,
      ...(ctx.limits === undefined ? {} : { limits: ctx.limits }),
    });
    if (!REDIRECTS.includes(response.status)) return response;
    await response.dump();
    const location = response.headers['location'];
    if (location === undefined || hop >= MAX_REDIRECTS) {
      throw new Error(`HTTP ${response.status} ${location === undefined ? 'without Location' : `after ${MAX_REDIRECTS} redirects`}`);
    }
    current = new URL(location, current).href;
    // An http:// listing and its https:// twin lead to one document: read it once.
    const key = normaliseFeedUrl(current);
    if (visited.has(key)) return undefined;
    visited.add(key);
  }
}

function scriptBlocks(html: string): string[] {
  const pattern = /<script\b[^>]*\btype\s*=\s*["']?application\/ld\+json["']?[^>]*>([\s\S]*?)<\/script\s*>/gi;
  return [...html.matchAll(pattern)].map((match) => match[1] as string);
}

/** Top-level objects, array members and `@graph` members. */
function flatten(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.flatMap(flatten);
  if (!isRecord(value)) return [];
  const graph = value['@graph'];
  return graph === undefined ? [value] : [value, ...flatten(graph)];
}

/** URLs from a property holding a URL, an object with `@id`/`url`, or an array of them. */
function links(value: unknown, base: string): string[] {
  const urls: string[] = [];
  for (const entry of asArray(value)) {
    const raw = typeof entry === 'string' ? entry : isRecord(entry) && entry['distribution'] === undefined ? (entry['@id'] ?? entry['url']) : undefined;
    if (typeof raw !== 'string') continue;
    try {
      const url = new URL(raw, base);
      if (url.protocol === 'http:' || url.protocol === 'https:') urls.push(url.href);
    } catch {
      // not a URL: nothing to follow
    }
  }
  return urls;
}

function hasType(node: Record<string, unknown>, type: string): boolean {
  return asArray(node['@type'] ?? node['type']).some(
    (value) => typeof value === 'string' && (value === type || value.endsWith(`/${type}`) || value.endsWith(`:${type}`)),
  );
}

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}


function safeNormalise(url: string): string | undefined {
  try {
    return normaliseFeedUrl(url);
  } catch {
    return undefined;
  }
}
