import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import {
  HttpStatusError,
  OriginNotAllowedError,
  type HttpClient,
  type HttpRequestOptions,
  type HttpResponse,
} from './client.js';
import { LimitExceededError } from '../core/limits.js';
import { HttpAbortError, HttpNetworkError, HttpTimeoutError } from './errors.js';
import { redactText, redactUrl, secretsInHeaders, secretsInUrl } from './redact.js';
import { BODY_READ_AHEAD_BYTES, decodedBody, discard, readSnippet, readText, type BodyContext } from './response-body.js';
import {
  backoffDelayMs,
  errorCode,
  isRetryableNetworkError,
  isRetryableStatus,
  parseHttpDate,
  parseRetryAfter,
} from './retry-policy.js';

export interface HttpClientOptions {
  readonly userAgent: string;
  readonly connectTimeoutMs: number;
  /** Time to the response headers: an NSI may think for a while before the first byte. */
  readonly headersTimeoutMs: number;
  /** Longest silence between two body chunks (idle time, not total time). */
  readonly bodyTimeoutMs: number;
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  readonly retryBaseDelayMs: number;
  /**
   * Cap on any single wait, including Retry-After. A server asking for longer gets an
   * HttpStatusError with `retryAfterMs` at once, so the runner can schedule the stream later
   * instead of holding a slot.
   */
  readonly maxRetryDelayMs: number;
  readonly log?: Logger;
  /**
   * Injected by tests; otherwise the client owns a keep-alive Agent. An injected dispatcher keeps
   * its own connect timeout (undici sets it per connection pool, not per request).
   */
  readonly dispatcher?: Dispatcher;
}

/** The client, plus a way to close its connections at shutdown. */
export interface UndiciHttpClient extends HttpClient {
  close(): Promise<void>;
}

function packageVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const DEFAULT_HTTP_OPTIONS: Readonly<Omit<HttpClientOptions, 'log' | 'dispatcher'>> = Object.freeze({
  userAgent: `dataspace-sync/${packageVersion()} (+https://github.com/dataspace-sync)`,
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 120_000,
  bodyTimeoutMs: 60_000,
  maxRetries: 3,
  retryBaseDelayMs: 1_000,
  maxRetryDelayMs: 30_000,
});

const ACCEPT_ENCODING = 'gzip, deflate, br';

/**
 * The HttpClient port on undici. Redirects are deliberately not followed (undici's default): a
 * source decides whether a new location is acceptable (RPDE `next` must stay on the feed's origin,
 * an ODS export may move to a CDN), and following silently would bypass `allowedOrigins`.
 */
export function createHttpClient(overrides: Partial<HttpClientOptions> = {}): UndiciHttpClient {
  // Keys present but undefined (e.g. from an optional config field) fall back to the default.
  const given = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const options: HttpClientOptions = { ...DEFAULT_HTTP_OPTIONS, ...given };
  // Only an agent made here is closed by close(); a given dispatcher belongs to the caller.
  const ownAgent =
    overrides.dispatcher === undefined
      ? new Agent({
          connect: { timeout: options.connectTimeoutMs },
          headersTimeout: options.headersTimeoutMs,
          bodyTimeout: options.bodyTimeoutMs,
        })
      : undefined;
  const dispatcher: Dispatcher = overrides.dispatcher ?? (ownAgent as Agent);
  const log = options.log;

  async function request(input: string | URL, requestOptions: HttpRequestOptions = {}): Promise<HttpResponse> {
    const url = parseUrl(input);
    const shown = redactUrl(url);
    const secrets = [...secretsInUrl(url), ...secretsInHeaders(requestOptions.headers)];
    const method = requestOptions.method ?? 'GET';
    const { signal, allowedOrigins } = requestOptions;
    if (allowedOrigins !== undefined && !originAllowed(url, allowedOrigins)) {
      throw new OriginNotAllowedError(shown, allowedOrigins);
    }
    const retryable = requestOptions.retry ?? (method === 'GET' || method === 'HEAD');
    const headers = requestHeaders(requestOptions.headers, options.userAgent);
    moveUserinfoToBasicAuth(url, headers);
    if (headers['authorization'] !== undefined) secrets.push(...secretsInHeaders({ authorization: headers['authorization'] }));
    const limits = requestOptions.limits;
    const bodyContext: BodyContext = { url: shown, secrets, signal, bodyTimeoutMs: options.bodyTimeoutMs, limits };

    for (let attempt = 0; ; attempt += 1) {
      if (signal?.aborted) throw new HttpAbortError(shown, { cause: signal.reason });
      const mayRetry = retryable && attempt < options.maxRetries;
      let response: Dispatcher.ResponseData;
      try {
        response = await undiciRequest(url, {
          dispatcher,
          method,
          headers,
          body: requestOptions.body ?? null,
          signal,
          headersTimeout: options.headersTimeoutMs,
          bodyTimeout: options.bodyTimeoutMs,
          highWaterMark: BODY_READ_AHEAD_BYTES,
        });
      } catch (error) {
        if (signal?.aborted) throw new HttpAbortError(shown, { cause: signal.reason });
        const failure = requestFailure(error, shown, secrets, options);
        if (!mayRetry || !isRetryableNetworkError(error)) throw failure;
        const delayMs = backoffDelayMs(attempt, options.retryBaseDelayMs, options.maxRetryDelayMs);
        log?.warn({ method, url: shown, attempt: attempt + 1, error: failure.message, delayMs }, 'HTTP request failed, retrying');
        await wait(delayMs, signal, shown);
        continue;
      }

      const status = response.statusCode;
      const responseHeaders = flattenHeaders(response.headers);
      const serverDate = parseHttpDate(responseHeaders['date']);
      const hasBody = method !== 'HEAD' && status !== 204 && status !== 304;
      log?.debug({ method, url: shown, status, attempt: attempt + 1 }, 'HTTP response');

      if ((status >= 200 && status < 300) || requestOptions.acceptStatus?.includes(status)) {
        // From here the body belongs to the caller: no retry can repeat what it has already read.
        refuseAnnouncedSize(response.body, responseHeaders['content-length'], bodyContext);
        const body = decodedBody(response.body, responseHeaders['content-encoding'], hasBody, bodyContext);
        const text = () => readText(body, limits?.documentBytes, shown);
        return {
          url: shown,
          status,
          headers: responseHeaders,
          serverDate,
          body,
          endVerified: endVerified(responseHeaders),
          text,
          json: async () => parseJson(await text(), bodyContext),
          dump: () => discard(body),
        };
      }

      const retryAfterMs = parseRetryAfter(responseHeaders['retry-after'], serverDate, Date.now());
      const snippet = await errorSnippet(response.body, responseHeaders['content-encoding'], hasBody, bodyContext);
      const failure = new HttpStatusError(shown, status, snippet, retryAfterMs);
      if (!mayRetry || !isRetryableStatus(status)) throw failure;
      if (retryAfterMs !== undefined && retryAfterMs > options.maxRetryDelayMs) {
        log?.warn({ method, url: shown, status, retryAfterMs }, 'HTTP server asks to come back later than this run can wait');
        throw failure;
      }
      const delayMs = retryAfterMs ?? backoffDelayMs(attempt, options.retryBaseDelayMs, options.maxRetryDelayMs);
      log?.warn({ method, url: shown, status, attempt: attempt + 1, delayMs }, 'HTTP request failed, retrying');
      await wait(delayMs, signal, shown);
    }
  }

  return {
    request,
    async close() {
      await ownAgent?.close();
    },
  };
}

/** A body announced larger than `limits.responseBytes` is refused before any of it is read. */
function refuseAnnouncedSize(raw: Dispatcher.ResponseData['body'], contentLength: string | undefined, context: BodyContext): void {
  const limit = context.limits?.responseBytes;
  if (limit === undefined || contentLength === undefined || !/^\d+$/.test(contentLength.trim())) return;
  const announced = Number(contentLength.trim());
  if (announced <= limit) return;
  raw.on('error', () => {});
  raw.destroy();
  throw new LimitExceededError('responseBytes', limit, `the answer of ${context.url} (Content-Length ${announced})`);
}

/** See HttpResponse.endVerified. */
function endVerified(headers: Readonly<Record<string, string>>): boolean {
  if (headers['content-length'] !== undefined) return true;
  if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) return true;
  const codings = (headers['content-encoding'] ?? '').split(',').map((coding) => coding.trim().toLowerCase());
  return codings.some((coding) => coding === 'gzip' || coding === 'x-gzip' || coding === 'deflate' || coding === 'br');
}

function parseUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError(`not a valid URL: ${redactUrl(String(input))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`not an http(s) URL: ${redactUrl(url)}`);
  }
  return url;
}

function originAllowed(url: URL, allowed: readonly string[]): boolean {
  return allowed.some((origin) => {
    try {
      // Through URL so that `HTTPS://Example.org:443` and `https://example.org` compare equal.
      return new URL(origin).origin === url.origin;
    } catch {
      return false;
    }
  });
}

function requestHeaders(given: Readonly<Record<string, string>> | undefined, userAgent: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(given ?? {})) headers[name.toLowerCase()] = value;
  headers['user-agent'] ??= userAgent;
  headers['accept-encoding'] ??= ACCEPT_ENCODING;
  return headers;
}

/**
 * undici silently drops `user:password@` from a URL, so credentials written that way in the config
 * would never reach the server. Send them as Basic auth, unless the caller set its own Authorization.
 */
function moveUserinfoToBasicAuth(url: URL, headers: Record<string, string>): void {
  if (url.username === '' && url.password === '') return;
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  headers['authorization'] ??= `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  url.username = '';
  url.password = '';
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function requestFailure(error: unknown, shown: string, secrets: readonly string[], options: HttpClientOptions): Error {
  const code = errorCode(error);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return new HttpTimeoutError(shown, 'connect', options.connectTimeoutMs, { cause: error });
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return new HttpTimeoutError(shown, 'headers', options.headersTimeoutMs, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  const detail = redactText(code !== undefined && !message.includes(code) ? `${message} (${code})` : message, secrets);
  return new HttpNetworkError(shown, code, detail, { cause: error });
}

async function errorSnippet(raw: Dispatcher.ResponseData['body'], encoding: string | undefined, hasBody: boolean, context: BodyContext): Promise<string> {
  let body;
  try {
    body = decodedBody(raw, encoding, hasBody, context);
  } catch {
    return '';
  }
  return redactText(await readSnippet(body), context.secrets);
}

function parseJson(text: string, context: BodyContext): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = redactText(error instanceof Error ? error.message : String(error), context.secrets);
    // No `cause`: JSON.parse quotes the body, which may echo a secret; the redacted detail says it all.
    // eslint-disable-next-line preserve-caught-error
    throw new SyntaxError(`the body of ${context.url} is not valid JSON: ${detail}`);
  }
}

/** A retry wait that an abort ends at once. */
async function wait(ms: number, signal: AbortSignal | undefined, shown: string): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (error) {
    throw new HttpAbortError(shown, { cause: signal?.reason ?? error });
  }
}
