import type { Logger } from 'pino';
import { isRecord } from '../../core/json.js';
import { DEFAULT_LIMITS, LimitExceededError, type SourceLimits } from '../../core/limits.js';
import { RetryLaterError, type ReadContext } from '../../core/source.js';
import type { HttpClient, HttpResponse } from '../../http/client.js';
import { ExploreAnswerError, ExploreNotFoundError, ExploreRefusedError } from './explore-errors.js';
import { rateLimitOf, resetWaitMs, type RateLimit } from './rate-limit.js';

export interface ExploreClientOptions {
  /** The portal's public URL, e.g. `https://data.example.org`. */
  readonly portal: string;
  /** Sent as `Authorization: Apikey ...` (never in the URL, so never in a log line). */
  readonly apiKey: string | undefined;
  readonly http: HttpClient;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Bounds on each answer (docs/limits.md); default DEFAULT_LIMITS. */
  readonly limits?: SourceLimits;
  readonly now?: () => Date;
}

/** What an ODS stream's settings say about the portal it reads: the part both kinds share. */
export interface PortalSettings {
  /** The portal's public URL, without a trailing slash. */
  readonly portal: string;
  readonly apiKey: string | undefined;
  /** Bounds on each answer (docs/limits.md); default DEFAULT_LIMITS. */
  readonly limits?: SourceLimits;
  readonly now?: () => Date;
}

/** The client of one run of an ODS stream: its portal, with the run's HTTP client, abort signal and log. */
export function exploreClientFor(settings: PortalSettings, ctx: Pick<ReadContext, 'http' | 'signal' | 'log'>): ExploreClient {
  return new ExploreClient({
    portal: settings.portal,
    apiKey: settings.apiKey,
    http: ctx.http,
    signal: ctx.signal,
    log: ctx.log,
    ...(settings.limits ? { limits: settings.limits } : {}),
    ...(settings.now ? { now: settings.now } : {}),
  });
}

/** A query parameter: absent, one value, or one per repetition (`refine=a:b&refine=c:d`). */
export type QueryValue = string | number | readonly string[] | undefined;

/** At or below this share of the day's calls left, a warning is logged (once per run: one client per run). */
const LOW_QUOTA = 0.05;

/**
 * Explore API v2.1 of one portal, as the ODS sources call it: every request names what it was
 * for (`dataset public-trees`), so that each failure says which dataset it concerns, and turns the
 * portal's answers into the errors the runner acts on.
 *
 * - 400 (`ODSQLError`, `InvalidRESTParameterError`...), 401, 403: ExploreRefusedError, never retried.
 * - 404 `NotFoundResource`: ExploreNotFoundError (the caller decides what a missing dataset means).
 * - 429: RetryLaterError until the quota resets (`reset_time` in the body, else `x-ratelimit-reset`).
 * - 5xx and network errors: retried by the HTTP client, then thrown naming the subject.
 * - 200 with an HTML page: ExploreAnswerError.
 */
export class ExploreClient {
  readonly apiBase: string;
  private readonly origin: string;
  private lowQuotaLogged = false;

  /** The bounds this client's answers are read under. */
  readonly limits: SourceLimits;

  constructor(private readonly options: ExploreClientOptions) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    const portal = new URL(options.portal);
    this.origin = portal.origin;
    this.apiBase = `${portal.origin}${portal.pathname.replace(/\/+$/, '')}/api/explore/v2.1`;
  }

  /** GET a JSON answer. */
  async json(path: string, query: Readonly<Record<string, QueryValue>>, subject: string): Promise<unknown> {
    const response = await this.get(path, query, subject, 'json');
    try {
      return await response.json();
    } catch (error) {
      if (error instanceof LimitExceededError) throw error.within(`${subject}: `);
      throw new ExploreAnswerError(`${subject}: ${errorText(error)}`, { cause: error });
    }
  }

  /** GET an export: the response, whose body the caller streams (and must consume or dump). */
  stream(path: string, query: Readonly<Record<string, QueryValue>>, subject: string): Promise<HttpResponse> {
    return this.get(path, query, subject, 'export');
  }

  url(path: string, query: Readonly<Record<string, QueryValue>>): URL {
    const url = new URL(`${this.apiBase}${path}`);
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined) continue;
      for (const one of typeof value === 'object' ? value : [value]) url.searchParams.append(name, String(one));
    }
    return url;
  }

  private async get(path: string, query: Readonly<Record<string, QueryValue>>, subject: string, kind: 'json' | 'export'): Promise<HttpResponse> {
    const { http, signal, apiKey } = this.options;
    let response: HttpResponse;
    try {
      response = await http.request(this.url(path, query), {
        signal,
        headers: { accept: kind === 'json' ? 'application/json' : '*/*', ...(apiKey === undefined ? {} : { authorization: `Apikey ${apiKey}` }) },
        acceptStatus: [400, 401, 403, 404, 429],
        allowedOrigins: [this.origin],
        limits: this.limits,
      });
    } catch (error) {
      throw subjectError(subject, error);
    }
    if (response.status === 200) {
      this.watchQuota(rateLimitOf(response.headers), subject);
      const type = response.headers['content-type'] ?? '';
      if (/^text\/html/i.test(type) || (kind === 'json' && !/json/i.test(type))) {
        await response.dump();
        throw new ExploreAnswerError(
          `${subject}: the portal answered ${type === '' ? 'a body without a content type' : `"${type}"`} with status 200 where JSON was expected ` +
            '(a login or maintenance page in front of the portal? check the portal URL and the API key)',
        );
      }
      return response;
    }
    if (response.status >= 200 && response.status < 300) {
      await response.dump();
      throw new ExploreAnswerError(`${subject}: the portal answered status ${response.status} where 200 was expected`);
    }
    throw await this.refusal(response, subject);
  }

  /** The error for a 400, 401, 403, 404 or 429 answer. */
  private async refusal(response: HttpResponse, subject: string): Promise<Error> {
    let body: unknown;
    try {
      body = JSON.parse(await response.text());
    } catch {
      body = undefined;
    }
    const field = (name: string): string | undefined => {
      const value = isRecord(body) ? body[name] : undefined;
      return typeof value === 'string' ? value : undefined;
    };
    const code = field('error_code');
    const message = field('message') ?? field('error');
    const said = `${code === undefined ? '' : ` ${code}`}${message === undefined ? '' : `: ${message}`}`;
    switch (response.status) {
      case 404:
        return new ExploreNotFoundError(`${subject}: not found on the portal (404${said})`);
      case 429: {
        const now = this.now();
        const waitMs = resetWaitMs(field('reset_time'), response.headers['x-ratelimit-reset'], now);
        const until = new Date(now.getTime() + waitMs).toISOString();
        return new RetryLaterError(`${subject}: the portal's call quota is used up (429${said}); waiting until ${until}`, waitMs);
      }
      case 401:
      case 403:
        return new ExploreRefusedError(
          `${subject}: the portal refused access (${response.status}${said}): ${this.options.apiKey === undefined ? 'it needs an API key (apiKey)' : 'check that the API key is valid and has the rights'}`,
          response.status,
          code,
        );
      default:
        return new ExploreRefusedError(`${subject}: the portal refused the request (${response.status}${said})`, response.status, code);
    }
  }

  private watchQuota(limit: RateLimit | undefined, subject: string): void {
    if (limit === undefined || this.lowQuotaLogged || limit.remaining > limit.limit * LOW_QUOTA) return;
    this.lowQuotaLogged = true;
    this.options.log.warn({ subject, remaining: limit.remaining, limit: limit.limit, resetsAt: limit.resetAt?.toISOString() }, 'ODS portal call quota nearly used up');
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

/** A failure of the HTTP layer, naming the subject; a Retry-After it carried is kept for the runner. */
function subjectError(subject: string, error: unknown): Error {
  if (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError') return error as Error;
  if (error instanceof LimitExceededError) return error.within(`${subject}: `);
  const wrapped = new ExploreAnswerError(`${subject}: ${errorText(error)}`, { cause: error });
  const retryAfterMs = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof retryAfterMs === 'number' ? Object.assign(wrapped, { retryAfterMs }) : wrapped;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
