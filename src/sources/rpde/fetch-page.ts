import type { Readable } from 'node:stream';
import { LimitExceededError, type SourceLimits } from '../../core/limits.js';
import { RetryLaterError, StreamGoneError } from '../../core/source.js';
import { HttpStatusError, type HttpClient } from '../../http/client.js';
import type { FindingRecorder } from './finding-log.js';
import { RpdeFeedError } from './feed-error.js';

export interface FetchPageOptions {
  readonly http: HttpClient;
  readonly signal: AbortSignal;
  readonly allowedOrigins: readonly string[];
  /** Bounds on a page (docs/limits.md): documentBytes is the page's size, itemsPerPage its items. */
  readonly limits: SourceLimits;
  /** Wait after a 503/429 without Retry-After: random in [min, max] (the spec's 60-120 minutes). */
  readonly retryAfterDefault: { readonly minMs: number; readonly maxMs: number };
  readonly random: () => number;
  readonly report: FindingRecorder;
}

export interface FetchedPage {
  /** Where the page was served from: the URL asked for, or where its redirects led. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
}

const ACCEPT = 'application/json, application/vnd.openactive.rpde+json;q=0.9';
const JSON_TYPES = new Set(['application/json', 'application/vnd.openactive.rpde+json']);
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const MAX_REDIRECTS = 5;

/**
 * One GET of a feed page under the RPDE HTTP rules (spec §5.1.4): 503 and 429 mean "come back in
 * 60-120 minutes" (or when Retry-After says), 404 and 410 mean the feed is gone, anything else
 * that is not a 200 is thrown for the runner to back off. Statuses are recorded as C1, a wrong
 * Content-Type as C2.
 *
 * Redirects are followed here rather than by the HTTP client, because only the feed knows where
 * they may lead: up to MAX_REDIRECTS, each recorded (C36:redirect), only to the feed's origin or
 * an allowed one (C7:refused otherwise). A feed that moved keeps working instead of failing on
 * its old URL forever.
 */
export async function fetchPage(url: string, options: FetchPageOptions): Promise<FetchedPage> {
  const { report } = options;
  let current = url;
  for (let redirects = 0; ; redirects += 1) {
    let response;
    try {
      response = await options.http.request(current, {
        headers: { accept: ACCEPT },
        signal: options.signal,
        // Handed back at once, not retried by the client: these have their own long waits.
        acceptStatus: [404, 410, 429, 503, ...REDIRECT_STATUSES],
        allowedOrigins: options.allowedOrigins,
        limits: options.limits,
      });
    } catch (error) {
      if (error instanceof HttpStatusError) {
        if (isAwayStatus(error.status)) throw statusFailure(current, error.status, error.retryAfterMs, options);
        report.record(error.status === 403 ? 'C1:403' : 'C1', `HTTP ${error.status} at ${current}`);
      }
      throw error;
    }
    if (REDIRECT_STATUSES.includes(response.status)) {
      await response.dump().catch(() => undefined);
      current = redirectTarget(current, response.status, response.headers['location'], redirects, options);
      continue;
    }
    if (response.status !== 200) {
      await response.dump().catch(() => undefined);
      if (isAwayStatus(response.status)) {
        throw statusFailure(current, response.status, retryAfterOf(response.headers, response.serverDate), options);
      }
      report.record('C1', `HTTP ${response.status} at ${current}`);
      throw new Error(`HTTP ${response.status} at ${current}: a feed page must be a 200`);
    }
    const contentType = response.headers['content-type'];
    const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
    if (mediaType === undefined || !JSON_TYPES.has(mediaType)) {
      report.record('C2', `Content-Type ${JSON.stringify(contentType ?? '(none)')} at ${current}`);
    }
    const text = await readCapped(response.body, options.limits.documentBytes, current);
    return { url: current, headers: response.headers, text };
  }
}

/** Where a redirect leads, if it may be followed; throws (and records why) if not. */
function redirectTarget(from: string, status: number, location: string | undefined, followed: number, options: FetchPageOptions): string {
  const { report } = options;
  if (location === undefined) {
    report.record('C1', `HTTP ${status} without Location at ${from}`);
    throw new Error(`HTTP ${status} at ${from} without a Location to follow`);
  }
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    report.record('C1', `HTTP ${status} at ${from} to the unusable Location ${JSON.stringify(location)}`);
    throw new Error(`HTTP ${status} at ${from}: Location ${JSON.stringify(location)} is not a URL`);
  }
  if (followed >= MAX_REDIRECTS) {
    report.record('C1', `more than ${MAX_REDIRECTS} redirects, the last from ${from} to ${target.href}`);
    throw new RpdeFeedError(`more than ${MAX_REDIRECTS} redirects, the last from ${from} to ${target.href}; not followed`);
  }
  if (!options.allowedOrigins.includes(target.origin)) {
    report.record('C7:refused', `HTTP ${status} from ${from} to ${target.href}`);
    throw new RpdeFeedError(`${from} redirects to ${target.href}, whose origin is not the feed's nor in allowedOrigins; not followed (C7)`);
  }
  report.record('C36:redirect', `HTTP ${status} from ${from} to ${target.href}`);
  return target.href;
}

/** 404/410: gone. 429/503: a RetryLaterError, after Retry-After or a random 60-120 minutes. */
function statusFailure(
  url: string,
  status: number,
  retryAfterMs: number | undefined,
  options: FetchPageOptions,
): Error {
  const { report } = options;
  if (status === 404 || status === 410) {
    report.record('C1:404', `HTTP ${status} at ${url}`);
    return new StreamGoneError(`HTTP ${status} at ${url}: the feed is gone (RPDE: do not retry)`);
  }
  const asked = retryAfterMs === undefined ? '' : `, Retry-After ${Math.round(retryAfterMs / 1000)}s`;
  report.record(status === 429 ? 'C1:429' : 'C1:503', `HTTP ${status} at ${url}${asked}`);
  const { minMs, maxMs } = options.retryAfterDefault;
  const waitMs = retryAfterMs ?? Math.round(minMs + options.random() * (maxMs - minMs));
  return new RetryLaterError(`HTTP ${status} at ${url}: retrying in ${Math.round(waitMs / 60_000)} min`, waitMs);
}

/** The statuses with their own RPDE meaning: gone, or come back much later. */
function isAwayStatus(status: number): boolean {
  return status === 404 || status === 410 || status === 429 || status === 503;
}

function retryAfterOf(headers: Readonly<Record<string, string>>, serverDate: Date | undefined): number | undefined {
  const value = headers['retry-after']?.trim();
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - (serverDate?.getTime() ?? Date.now()));
}

/** Pages are committed whole, so one is held in memory; the cap keeps a hostile one from exhausting it. */
async function readCapped(body: Readable, maxBytes: number, url: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > maxBytes) {
      body.destroy();
      throw new LimitExceededError('documentBytes', maxBytes, `page ${url}`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
