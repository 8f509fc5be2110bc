/**
 * The quota headers portals send on successful answers: `x-ratelimit-limit`, `-remaining` and
 * `-reset`. On Explore v2.1 the reset is a date and time (`2026-08-18 00:00:00+00:00`); older
 * documentation gives epoch seconds: both are read. Missing headers mean "unknown", not "unlimited".
 */
export interface RateLimit {
  readonly limit: number;
  readonly remaining: number;
  readonly resetAt: Date | undefined;
}

export function rateLimitOf(headers: Readonly<Record<string, string>>): RateLimit | undefined {
  const limit = Number(headers['x-ratelimit-limit']);
  const remaining = Number(headers['x-ratelimit-remaining']);
  if (!Number.isFinite(limit) || !Number.isFinite(remaining) || headers['x-ratelimit-limit'] === undefined || headers['x-ratelimit-remaining'] === undefined) {
    return undefined;
  }
  return { limit, remaining, resetAt: parseReset(headers['x-ratelimit-reset']) };
}

/** `2026-08-18 00:00:00+00:00`, an ISO 8601 instant, or epoch seconds. */
export function parseReset(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return new Date(Number(text) * 1000);
  const time = Date.parse(text.replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T'));
  return Number.isNaN(time) ? undefined : new Date(time);
}

/** When the quota resets, without knowing it: retry in an hour rather than hammer the portal. */
export const UNKNOWN_RESET_WAIT_MS = 3_600_000;

/** How long to wait after a 429: until the body's `reset_time`, else the header's reset, else an hour. */
export function resetWaitMs(resetTime: string | undefined, headerReset: string | undefined, now: Date): number {
  const reset = parseReset(resetTime) ?? parseReset(headerReset);
  if (reset === undefined) return UNKNOWN_RESET_WAIT_MS;
  return Math.max(1000, reset.getTime() - now.getTime());
}
