/**
 * The failures of the HTTP client other than the port's own HttpStatusError and
 * OriginNotAllowedError. Each names the request by method and redacted URL, because undici's own
 * errors ("other side closed", "Body Timeout Error") do not say which of many streams failed.
 * Causes are kept for `describeError`; undici's never contain the URL.
 */

export type HttpTimeoutPhase = 'connect' | 'headers' | 'body';

const PHASE_WORDING: Record<HttpTimeoutPhase, string> = {
  connect: 'connecting to',
  headers: 'waiting for the response headers of',
  body: 'waiting for more of the body of',
};

/** A connect, headers or body (idle) timeout. */
export class HttpTimeoutError extends Error {
  readonly code = 'HTTP_TIMEOUT';

  constructor(
    readonly url: string,
    readonly phase: HttpTimeoutPhase,
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(`timed out after ${timeoutMs} ms ${PHASE_WORDING[phase]} ${url}`, options);
    this.name = 'HttpTimeoutError';
  }
}

/** The connection failed or was cut before a response arrived (refused, reset, DNS). */
export class HttpNetworkError extends Error {
  constructor(
    readonly url: string,
    /** The system or undici code, e.g. ECONNREFUSED, UND_ERR_SOCKET. */
    readonly code: string | undefined,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`network error requesting ${url}: ${detail}`, options);
    this.name = 'HttpNetworkError';
  }
}

/** The body stream broke after the response started: connection cut, length mismatch, bad compression. */
export class HttpBodyError extends Error {
  constructor(
    readonly url: string,
    readonly code: string | undefined,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`the body of ${url} is incomplete or corrupt: ${detail}`, options);
    this.name = 'HttpBodyError';
  }
}

/**
 * The caller's AbortSignal fired. Named `AbortError` like the platform's own, so code that checks
 * `error.name === 'AbortError'` treats it as a cancellation rather than a failure.
 */
export class HttpAbortError extends Error {
  readonly code = 'ABORT_ERR';

  constructor(readonly url: string, options?: ErrorOptions) {
    super(`request to ${url} was aborted`, options);
    this.name = 'AbortError';
  }
}
