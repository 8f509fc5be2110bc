import { pipeline, Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
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
}

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
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
  const source: Readable = decoders.length === 0 ? raw : (pipeline([raw, ...decoders], () => {}) as Transform);
  const encoding = decoders.length > 0 ? codings.join(', ') : undefined;
  const output = new BodyRelay(source);
  // pipeline() forwards any failure upstream (and destroys the rest) to its last stream.
  source.on('error', (error: Error) => output.destroy(bodyFailure(error, encoding, context)));
  // A body that breaks while nobody reads it (a caller that only wanted the status) must not take
  // the daemon down as an unhandled 'error' event. Readers still get the error: for-await,
  // pipeline() and their own listeners all see it, and `errored` holds it.
  output.on('error', () => {});
  return output;
}

/**
 * Relays the decoded bytes with backpressure, and owns the error the caller sees. Letting
 * pipeline() destroy the caller's stream directly would expose undici's anonymous errors through
 * `stream.errored` even if the emitted one were replaced.
 */
class BodyRelay extends Readable {
  constructor(private readonly source: Readable) {
    super();
    source.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) source.pause();
    });
    source.on('end', () => this.push(null));
  }

  override _read(): void {
    this.source.resume();
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

/** The whole body as UTF-8 text (a leading BOM dropped). */
export async function readText(body: Readable): Promise<string> {
  const decoder = new TextDecoder('utf-8');
  let text = '';
  for await (const chunk of body as AsyncIterable<Buffer>) text += decoder.decode(chunk, { stream: true });
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
