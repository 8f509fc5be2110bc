import { Worker } from 'node:worker_threads';
import { workerModuleUrl } from '../../core/worker-module.js';
import { FindingLog, type LoggedFinding } from './finding-log.js';
import { LimitExceededError, type LimitKey } from '../../core/limits.js';
import { decodePage, RpdePageError, type RpdePage } from './page.js';

/** A decoded page, or why it is not one, with what it showed about the feed's conformance. */
export interface DecodedPage {
  readonly page?: RpdePage;
  /** `limit`: the page exceeded it (rebuilt as a LimitExceededError; errors cross threads as data). */
  readonly error?: { readonly message: string; readonly page: boolean; readonly limit?: { key: LimitKey; limit: number; what: string } };
  readonly findings: readonly LoggedFinding[];
}

export interface DecodeRequest {
  readonly id: number;
  readonly text: string;
  readonly pageUrl: string;
  readonly maxItems: number;
}

/** From the worker: each item's data is given as [start, end) in the page text (-1: in the item). */
export type DecodeReply = DecodedPage & { readonly id: number; readonly dataSpans?: Int32Array };

/**
 * Below this size a page is decoded in place: handing it to the worker and back costs more than
 * parsing it. Feeds' usual pages (hundreds of items of ~1 KB) are far above it.
 */
const OFF_THREAD_CHARS = 64 * 1024;

/**
 * Decodes a page: JSON.parse, the exact spans of ids, stamps and data, and the item checks. That is
 * the largest part of a harvest's CPU time, so large pages are decoded on a worker thread, where it
 * overlaps the store's synchronous writes and commits on this one. Never rejects: a bad page comes
 * back as `error`, to be thrown (by `pageOf`) once its findings are recorded.
 */
export function decodePageAnywhere(text: string, pageUrl: string, maxItems = Number.MAX_SAFE_INTEGER): Promise<DecodedPage> {
  if (text.length < OFF_THREAD_CHARS) return Promise.resolve(decodeInPlace(text, pageUrl, maxItems));
  decoder ??= new DecoderThread();
  return decoder.decode(text, pageUrl, maxItems);
}

/** The decoded page, or its error thrown as decodePage would have thrown it. */
export function pageOf(decoded: DecodedPage): RpdePage {
  if (decoded.error !== undefined) {
    const limit = decoded.error.limit;
    if (limit !== undefined) throw new LimitExceededError(limit.key, limit.limit, limit.what);
    if (decoded.error.page) throw new RpdePageError(decoded.error.message);
    throw new Error(decoded.error.message);
  }
  return decoded.page as RpdePage;
}

/** Decodes on this thread; the worker runs the same. */
export function decodeInPlace(text: string, pageUrl: string, maxItems = Number.MAX_SAFE_INTEGER): DecodedPage {
  const findings = new FindingLog();
  try {
    return { page: decodePage(text, pageUrl, findings, maxItems), findings: findings.entries() };
  } catch (error) {
    const limit = error instanceof LimitExceededError ? { key: error.key, limit: error.limit, what: error.what } : undefined;
    return { error: { message: (error as Error).message, page: error instanceof RpdePageError, ...(limit ? { limit } : {}) }, findings: findings.entries() };
  }
}

/** One worker for every feed of the process, started on first use; it never keeps the process alive. */
class DecoderThread {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { text: string; pageUrl: string; maxItems: number; resolve: (decoded: DecodedPage) => void }>();

  decode(text: string, pageUrl: string, maxItems: number): Promise<DecodedPage> {
    let worker: Worker;
    try {
      worker = this.started();
    } catch {
      // No thread to be had (resource limits): the page is decoded here, as a small one would be.
      return Promise.resolve(decodeInPlace(text, pageUrl, maxItems));
    }
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.waiting.set(id, { text, pageUrl, maxItems, resolve });
      worker.ref();
      worker.postMessage({ id, text, pageUrl, maxItems } satisfies DecodeRequest);
    });
  }

  private started(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(workerModuleUrl(import.meta.url, 'page-decoder-worker'));
    worker.on('message', (reply: DecodeReply) => {
      const request = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if (request !== undefined) request.resolve(withData(reply, request.text));
    });
    // A worker that died (out of memory, a bug) loses no page: what it held is decoded here.
    const fail = (): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, request] of this.waiting) {
        this.waiting.delete(id);
        request.resolve(decodeInPlace(request.text, request.pageUrl, request.maxItems));
      }
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

/** The reply with each item's data text cut from the page text (see page-decoder-worker.ts). */
function withData(reply: DecodeReply, text: string): DecodedPage {
  const { page, dataSpans } = reply;
  if (page === undefined || dataSpans === undefined) return reply;
  const items = page.items.map((item, index) => {
    const start = dataSpans[index * 2] as number;
    return start < 0 ? item : { ...item, data: text.slice(start, dataSpans[index * 2 + 1]) };
  });
  return { page: { ...page, items }, findings: reply.findings };
}

let decoder: DecoderThread | undefined;
