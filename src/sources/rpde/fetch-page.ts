import type { Readable } from 'node:stream';
import { RetryLaterError, StreamGoneError } from '../../core/source.js';
import { HttpStatusError, type HttpClient } from '../../http/client.js';
import type { ConformanceReport } from './conformance.js';
import { RpdePageError } from './page.js';

export interface FetchPageOptions {
  readonly http: HttpClient;
  readonly signal: AbortSignal;
  readonly allowedOrigins: readonly string[];
  readonly maxPageBytes: number;
  /** Wait after a 503/429 without Retry-After: random in [min, max] (the spec's 60-120 minutes). */
  readonly retryAfterDefault: { readonly minMs: number; readonly maxMs: number };
  readonly random: () => number;
  readonly report: ConformanceReport;
}

export interface FetchedPage {
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
}

const ACCEPT = 'application/json, application/vnd.openactive.rpde+json;q=0.9';
const JSON_TYPES = new Set(['application/json', 'application/vnd.openactive.rpde+json']);

/**
 * One GET of a feed page under the RPDE HTTP rules (spec §5.1.4): 503 and 429 mean "come back in
 * 60-120 minutes" (or when Retry-After says), 404 and 410 mean the feed is gone, anything else
 * that is not a 200 is thrown for the runner to back off. Statuses are recorded as C1, a wrong
 * Content-Type as C2.
 */
export async function fetchPage(url: string, options: FetchPageOptions): Promise<FetchedPage> {
  const { report } = options;
  let response;
  try {
    response = await options.http.request(url, {
      headers: { accept: ACCEPT },
      signal: options.signal,
      // Handed back at once, not retried by the client: these have their own long waits.
      acceptStatus: [404, 410, 429, 503],
      allowedOrigins: options.allowedOrigins,
    });
  } catch (error) {
    if (error instanceof HttpStatusError) {
      if (isAwayStatus(error.status)) throw statusFailure(url, error.status, error.retryAfterMs, options);
      report.record(error.status === 403 ? 'C1:403' : 'C1', `HTTP ${error.status} at ${url}`);
    }
    throw error;
  }
  if (response.status !== 200) {
    await response.dump().catch(() => undefined);
    if (isAwayStatus(response.status)) {
      throw statusFailure(url, response.status, retryAfterOf(response.headers, response.serverDate), options);
    }
    report.record('C1', `HTTP ${response.status} at ${url}`);
    throw new Error(`HTTP ${response.status} at ${url}: a feed page must be a 200`);
  }
  const contentType = response.headers['content-type'];
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType === undefined || !JSON_TYPES.has(mediaType)) {
    report.record('C2', `Content-Type ${JSON.stringify(contentType ?? '(none)')} at ${url}`);
  }
  const text = await readCapped(response.body, options.maxPageBytes, url);
  return { headers: response.headers, text };
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
      throw new RpdePageError(`page ${url} is larger than ${maxBytes} bytes; refused`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
