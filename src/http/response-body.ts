import { pipeline, Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { LimitExceededError, type LimitKey } from '../core/limits.js';
import type { ResponseLimits } from './client.js';
import { HttpAbortError, HttpBodyError, HttpTimeoutError } from './errors.js';
import { redactText } from './redact.js';
import { errorCode } from './retry-policy.js';

/** What a body stream needs to know to turn a low-level failure into an error naming the request. */
export interface BodyContext {
  /** The redacted URL. */
  readonly url: string;
  /** Values to scrub from any message (see `secretsInUrl`). */
  readonly secrets: readonly string[];
  readonly signal: AbortSignal | undefined;
  readonly bodyTimeoutMs: number;
  readonly limits?: ResponseLimits | undefined;
}

/** A byte count a relay enforces, and the error for going past it. */
interface ByteLimit {
  readonly bytes: number;
  readonly exceeded: () => Error;
}

function byteLimit(key: LimitKey, bytes: number | undefined, context: BodyContext, after: string): ByteLimit | undefined {
  if (bytes === undefined) return undefined;
  return { bytes, exceeded: () => new LimitExceededError(key, bytes, `the answer of ${context.url}${after}`) };
}

/**
 * Decoded chunks of 64 KiB rather than zlib's 16 KiB: a large answer then crosses from zlib's
 * thread and through the stream machinery a quarter as many times.
 */
const CHUNK = { chunkSize: 64 * 1024 };
const DECODERS: Record<string, () => Transform> = {
  gzip: () => createGunzip(CHUNK),
  'x-gzip': () => createGunzip(CHUNK),
  deflate: () => createInflate(CHUNK),
  br: () => createBrotliDecompress(CHUNK),
};

/**
 * The caller's view of a response body: decoded per `content-encoding`, still a stream. Failures
 * upstream (connection cut, body timeout, a gzip stream that ends early, abort) destroy it with an
 * error naming the request.
 *
 * `encoded` is false when there is no body to decode (HEAD, 204, 304): an empty input is not a
 * valid gzip stream, and decoding it would report a truncation that is not there.
 */
export function decodedBody(raw: Readable, contentEncoding: string | undefined, encoded: boolean, context: BodyContext): Readable {
  const codings = encoded ? parseCodings(contentEncoding) : [];
  const unsupported = codings.find((coding) => !Object.hasOwn(DECODERS, coding));
  if (unsupported !== undefined) {
    // undici's body emits an abort error when destroyed unread; nobody else will ever listen to it.
    raw.on('error', () => {});
    raw.destroy();
    throw new HttpBodyError(context.url, undefined, `unsupported content-encoding "${unsupported}"`);
  }
  // Codings are listed in the order they were applied, so they come off in reverse.
  const decoders = [...codings].reverse().map((coding) => (DECODERS[coding] as () => Transform)());
  const encoding = decoders.length > 0 ? codings.join(', ') : undefined;
  const fail = (error: Error): Error => (error instanceof LimitExceededError ? error : bodyFailure(error, encoding, context));
  const received = byteLimit('responseBytes', context.limits?.responseBytes, context, '');
  const decodedLimit = byteLimit('decodedBytes', context.limits?.decodedBytes, context, ' (decompressed)');
  if (decoders.length === 0) {
    // Received and decoded are the same bytes: the smaller limit is the one that counts.
    const both = received !== undefined && decodedLimit !== undefined ? (received.bytes <= decodedLimit.bytes ? received : decodedLimit) : (received ?? decodedLimit);
    return new BodyRelay(raw, fail, both);
  }
  // The decoders take undici's body through a relay too: piped directly, it would be read one chunk
  // at a time. pipeline() forwards any failure upstream (and destroys the rest) to its last
  // stream, which the caller's relay turns into its own error. The decoders run only as fast as
  // the caller reads, so a gzip bomb is stopped at `decodedBytes` having held little more.
  const decoded = pipeline([new BodyRelay(raw, (error) => error, received), ...decoders], () => {}) as Transform;
  return new BodyRelay(decoded, fail, decodedLimit);
}

/**
 * How much of a body undici may read ahead of the consumer (its body stream's high-water mark,
 * passed with each request). See BodyRelay for why this is large.
 */
export const BODY_READ_AHEAD_BYTES = 1024 * 1024;

/**
 * Relays a body with backpressure, and owns the error the caller sees (letting pipeline() destroy
 * the caller's stream directly would expose undici's anonymous errors through `errored` even if
 * the emitted one were replaced).
 *
 * It takes whatever its source holds in one read, which keeps reading a body linear. When
 * undici's body stream is full, its HTTP/1 parser pauses and puts the unread bytes back into the
 * socket's buffer, and every resume copies that backlog again. A consumer that takes one chunk
 * at a time (a flowing stream, pipe()) lets the parser resume for one chunk and pause
 * again, so while the consumer is slower than the network the backlog grows and each chunk
 * copies all of it: the socket reads of a 4 MB body added up to gigabytes. Emptied at once, the
 * source lets the parser run until it has read ahead BODY_READ_AHEAD_BYTES again: one pause per
 * megabyte, each copying at most one socket buffer, and no more than that megabyte held.
 */
class BodyRelay extends Readable {
  /** The consumer wants more (the last push left room). */
  private wanted = false;
  private relayed = 0;

  constructor(
    private readonly source: Readable,
    failure: (error: Error) => Error,
    private readonly limit?: ByteLimit,
  ) {
    // No buffer of its own: the source's is the read-ahead, and a second would double it.
    super({ highWaterMark: 0 });
    source.on('readable', () => this.pull());
    source.on('end', () => this.push(null));
    source.on('error', (error: Error) => this.destroy(failure(error)));
    // A body that breaks while nobody reads it (a caller that only wanted the status) must not take
    // the daemon down as an unhandled 'error' event. Readers still get the error: for-await,
    // pipeline() and their own listeners all see it, and `errored` holds it.
    this.on('error', () => {});
  }

  override _read(): void {
    this.wanted = true;
    this.pull();
  }

  private pull(): void {
    while (this.wanted) {
      // read() without a size returns everything buffered, as one chunk.
      const chunk = this.source.read() as Buffer | null;
      if (chunk === null) return;
      this.relayed += chunk.length;
      if (this.limit !== undefined && this.relayed > this.limit.bytes) {
        this.destroy(this.limit.exceeded());
        return;
      }
      this.wanted = this.push(chunk);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A caller that stops reading releases the connection now rather than at the body timeout.
    if (!this.source.destroyed) this.source.destroy();
    callback(error);
  }
}

function parseCodings(header: string | undefined): string[] {
  if (header === undefined) return [];
  return header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
}

function bodyFailure(error: Error, encoding: string | undefined, context: BodyContext): Error {
  if (context.signal?.aborted) return new HttpAbortError(context.url, { cause: context.signal.reason });
  const code = errorCode(error);
  if (code === 'UND_ERR_BODY_TIMEOUT') return new HttpTimeoutError(context.url, 'body', context.bodyTimeoutMs, { cause: error });
  const detail = redactText(error.message, context.secrets);
  // zlib reports a truncated stream as "unexpected end of file" (Z_BUF_ERROR); say which decoding.
  if (encoding !== undefined && code?.startsWith('Z_')) {
    return new HttpBodyError(context.url, code, `${encoding} decoding failed: ${detail}`, { cause: error });
  }
  return new HttpBodyError(context.url, code, detail, { cause: error });
}

/**
 * The whole body as UTF-8 text (a leading BOM dropped), refused past `maxBytes` (the answer's
 * `limits.documentBytes`) before more of it is held.
 */
export async function readText(body: Readable, maxBytes?: number, url = 'the response'): Promise<string> {
  const decoder = new TextDecoder('utf-8');
  let text = '';
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (maxBytes !== undefined && size > maxBytes) {
      body.destroy();
      throw new LimitExceededError('documentBytes', maxBytes, `the answer of ${url}`);
    }
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

/**
 * The start of an error response's body, on one line, for HttpStatusError. Best effort: a body
 * that fails while we read it just yields what arrived. The rest is read and dropped up to
 * `DISCARD_LIMIT_BYTES` so the connection stays usable for the retry.
 */
export async function readSnippet(body: Readable, maxChars = 300): Promise<string> {
  const decoder = new TextDecoder('utf-8');
  let text = '';
  let seen = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      // Whitespace collapses later, so keep a margin beyond maxChars.
      if (text.length < maxChars * 4) text += decoder.decode(chunk, { stream: true });
      seen += chunk.length;
      if (seen > DISCARD_LIMIT_BYTES) break;
    }
  } catch {
    // What arrived is enough to describe the failure.
  } finally {
    body.destroy();
  }
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > maxChars ? `${oneLine.slice(0, maxChars)}…` : oneLine;
}

/** Past this many unwanted bytes, a reconnect is cheaper than reading on. */
const DISCARD_LIMIT_BYTES = 128 * 1024;

/**
 * Discard a body the caller does not need. A short rest is read so the connection can be reused;
 * a long one is cut, which costs a reconnect but not the time to download it.
 */
export async function discard(body: Readable, maxBytes = DISCARD_LIMIT_BYTES): Promise<void> {
  if (body.readableEnded || body.destroyed) return;
  let seen = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > maxBytes) break;
    }
  } catch {
    // Discarding: a broken body changes nothing.
  } finally {
    body.destroy();
  }
}
