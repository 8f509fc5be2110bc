/**
 * When a request is worth repeating, and how long to wait first. Only failures that another try
 * can fix qualify: the server was overloaded or down, or the connection broke before a response.
 */

/** 5xx and 429. 501 (Not Implemented) is a 5xx that no retry can fix. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

/** Codes of failures before a response that a fresh connection may not hit again. */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);

/** undici throws system errors directly or wrapped one level down, so look at the cause too. */
export function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 3 && typeof current === 'object' && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isRetryableNetworkError(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/**
 * Retry-After as milliseconds: delta-seconds, or an HTTP-date measured against the server's own
 * `Date` header when it sent one (so a skewed local clock does not stretch or cut the wait).
 */
export function parseRetryAfter(value: string | undefined, serverNow: Date | undefined, localNow: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = parseHttpDate(trimmed);
  if (at === undefined) return undefined;
  const now = serverNow?.getTime() ?? localNow;
  return Math.max(0, at.getTime() - now);
}

/** An HTTP-date (IMF-fixdate or the obsolete forms Date.parse also reads), or undefined. */
export function parseHttpDate(value: string | undefined): Date | undefined {
  if (value === undefined || !/[A-Za-z]/.test(value)) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time);
}

/**
 * Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^retry)], so that many
 * streams failing together against one server do not come back in lockstep.
 */
export function backoffDelayMs(retry: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(retry, 30));
  return Math.round(random() * ceiling);
}
