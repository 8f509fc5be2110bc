import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A response other than a plain JSON page: a redirect, a status, headers of its own, raw text. */
export interface Served {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON-encoded unless a string or bytes. */
  readonly body?: unknown;
}

/**
 * A feed whose every response the test writes by hand, over real HTTP on loopback: for the checks
 * the simulator, a well-behaved publisher, never triggers. `pages` maps a request target
 * (`/feed?afterTimestamp=...`) to the page served as a 200 with `headers`; `responses` overrides
 * a target with anything else. Unknown targets get a 404.
 */
export class HandWrittenFeed {
  readonly served: string[] = [];
  pages: Record<string, unknown> = {};
  responses: Record<string, Served> = {};
  headers: Record<string, string> = { 'content-type': 'application/json' };
  /** Headers of one page's response, over `headers`. */
  pageHeaders: Record<string, Record<string, string>> = {};

  private readonly server: Server;
  private originText = '';

  private constructor() {
    this.server = createServer((request, response) => {
      const target = request.url ?? '';
      this.served.push(target);
      const { status, headers, body } = this.respond(target);
      response.writeHead(status, headers);
      response.end(body);
    });
  }

  static async start(): Promise<HandWrittenFeed> {
    const feed = new HandWrittenFeed();
    await new Promise<void>((resolve) => feed.server.listen(0, '127.0.0.1', resolve));
    feed.originText = `http://127.0.0.1:${(feed.server.address() as AddressInfo).port}`;
    return feed;
  }

  /** `http://127.0.0.1:<port>` */
  get origin(): string {
    return this.originText;
  }

  /**
   * Serves `pages` (none empty) as one feed from `/feed`, each `next` built from the page's last
   * item as the spec asks, then an empty last page. Returns the request target of every page, the last included.
   */
  serveChain(pages: readonly (readonly Record<string, unknown>[])[]): string[] {
    const targets = ['/feed'];
    pages.forEach((items) => {
      const last = items.at(-1);
      if (last === undefined) throw new Error('serveChain: every page needs an item to build its next from');
      targets.push(`/feed?afterTimestamp=${encodeURIComponent(String(last['modified']))}&afterId=${encodeURIComponent(String(last['id']))}`);
    });
    this.pages = {};
    pages.forEach((items, index) => {
      this.pages[targets[index] as string] = { next: `${this.origin}${targets[index + 1]}`, items, license: 'x' };
    });
    const end = targets.at(-1) as string;
    this.pages[end] = { next: `${this.origin}${end}`, items: [], license: 'x' };
    return targets;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private respond(target: string): { status: number; headers: Record<string, string>; body: string | Buffer } {
    const special = this.responses[target];
    if (special !== undefined) {
      const body = special.body === undefined ? '' : typeof special.body === 'string' || Buffer.isBuffer(special.body) ? special.body : JSON.stringify(special.body);
      return { status: special.status ?? 200, headers: { ...this.headers, ...special.headers }, body };
    }
    const page = this.pages[target];
    if (page === undefined) return { status: 404, headers: this.headers, body: JSON.stringify({ error: 'no page' }) };
    return { status: 200, headers: { ...this.headers, ...this.pageHeaders[target] }, body: JSON.stringify(page) };
  }
}

/** An `updated` item whose data names it, so a test can tell versions apart. */
export function updated(id: string, modified: number | string, kind = 'session'): Record<string, unknown> {
  return { state: 'updated', kind, id, modified, data: { id, modified } };
}

export function deleted(id: string, modified: number | string, kind = 'session'): Record<string, unknown> {
  return { state: 'deleted', kind, id, modified };
}
