import type { Readable } from 'node:stream';
import type { SourceLimits } from '../core/limits.js';

/**
 * The HTTP port every source uses (implemented on undici in http/undici-client.ts). Bodies are
 * streamed and decoded (gzip, deflate, br); nothing is buffered unless a caller asks for text/json.
 */
export interface HttpClient {
  request(url: string | URL, options?: HttpRequestOptions): Promise<HttpResponse>;
}

export interface HttpRequestOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  readonly signal?: AbortSignal;
  /**
   * Statuses handed back to the caller instead of thrown as HttpStatusError. 2xx is always
   * accepted; e.g. SDMX passes 404 to read NoRecordsFound, RPDE passes 404/410 to mark a feed gone.
   */
  readonly acceptStatus?: readonly number[];
  /** Retries for network errors, 5xx, 429 (honouring Retry-After). Default: on for GET/HEAD, off otherwise. */
  readonly retry?: boolean;
  /** Origins (`https://host:port`) this request may go to; others are refused before connecting. */
  readonly allowedOrigins?: readonly string[];
  /**
   * Bounds on the response (docs/limits.md), enforced while it is read: bytes received, bytes after
   * decompression, and bytes `text()`/`json()` may hold. Past one the body fails with a
   * LimitExceededError naming it; none by default.
   */
  readonly limits?: ResponseLimits;
}

export type ResponseLimits = Partial<Pick<SourceLimits, 'responseBytes' | 'decodedBytes' | 'documentBytes'>>;

export interface HttpResponse {
  /** The final URL, with secrets redacted for logs. */
  readonly url: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The server's clock from the `Date` header, if it sent a parseable one. */
  readonly serverDate: Date | undefined;
  /** The decoded body as a stream; consume it or call `dump()`. */
  readonly body: Readable;
  /**
   * Whether the end of the body can be told from a cut: it had a Content-Length or chunked framing
   * (the client fails a body that stops short of either), or a content coding whose stream marks
   * its own end (gzip, deflate, br). False for a body delimited only by the connection closing,
   * whose last bytes may be anywhere the connection broke.
   */
  readonly endVerified: boolean;
  /** The whole body as text (at most `limits.documentBytes`). */
  text(): Promise<string>;
  /** The whole body parsed as JSON (at most `limits.documentBytes`). */
  json(): Promise<unknown>;
  dump(): Promise<void>;
}

/** A response whose status the caller did not accept, after retries. */
export class HttpStatusError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly bodySnippet: string,
    /** From Retry-After, when the server sent one. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${status} from ${url}${bodySnippet ? `: ${bodySnippet}` : ''}`);
    this.name = 'HttpStatusError';
  }
}

/** A request refused before it was sent because its origin is not allowed. */
export class OriginNotAllowedError extends Error {
  constructor(url: string, allowed: readonly string[]) {
    super(`refusing to request ${url}: its origin is not one of ${allowed.join(', ')}`);
    this.name = 'OriginNotAllowedError';
  }
}
