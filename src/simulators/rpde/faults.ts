/**
 * What a misbehaving publisher or the network in front of it can do to one response
 * (docs/rpde.md, "Errors" and "Conformance checks"). Transport faults replace the response; page faults serve a real
 * page with one defect in it.
 */
export type RpdeFault = TransportFault | PageFault;

export type TransportFault =
  /** Any status instead of the page: 503 (with or without Retry-After), 429, 404/410 (feed gone), 403, 500... */
  | { readonly type: 'status'; readonly status: number; readonly retryAfter?: string }
  /** The real page, dribbled out in chunks with a pause before each. */
  | { readonly type: 'slowBody'; readonly delayMs: number; readonly chunkBytes?: number }
  /** The real page's headers (with its full Content-Length) and part of its JSON, then the socket is destroyed. */
  | { readonly type: 'cutBody'; readonly afterBytes?: number }
  /** A 200 with an HTML page, as a WAF challenge or a maintenance page serves. */
  | { readonly type: 'html' };

export type PageFault =
  /** `next` equals the request URL although the page has items (applies to pages with items). */
  | { readonly type: 'selfLoop' }
  /** `next` points at another origin (default: `localhost` instead of the loopback address, same port). */
  | { readonly type: 'foreignNext'; readonly origin?: string }
  /** `next` is a path without scheme and host, which the spec forbids. */
  | { readonly type: 'relativeNext' }
  /**
   * The page also carries an item already published earlier in the feed (default: the feed's head
   * item) with a `modified` one below its real one and stale data, in the middle of the page
   * (applies to pages with items).
   */
  | { readonly type: 'regressingModified'; readonly id?: string }
  /** The page's first item appears twice in it (applies to pages with items). */
  | { readonly type: 'duplicateId' }
  /**
   * `next` carries `afterId` but no `afterTimestamp` (applies to pages that are not the last).
   * Following it restarts the feed from the beginning, as the spec's reference query does.
   */
  | { readonly type: 'afterIdOnly' }
  /** `next` carries `afterTimestamp` but no `afterId` (the misspelling the validator checks for). */
  | { readonly type: 'afterTimestampOnly' };

export type RpdeFaultType = RpdeFault['type'];

export interface FaultOptions {
  /** How many responses it affects; Infinity for "from now on". Default 1. */
  readonly times?: number;
  /** Only requests for which this returns true (e.g. one page URL) are affected. */
  readonly match?: (url: URL) => boolean;
}

const TRANSPORT_TYPES: ReadonlySet<RpdeFaultType> = new Set(['status', 'slowBody', 'cutBody', 'html']);

export function isTransportFault(fault: RpdeFault): fault is TransportFault {
  return TRANSPORT_TYPES.has(fault.type);
}

interface PendingFault {
  readonly fault: RpdeFault;
  remaining: number;
  readonly match: ((url: URL) => boolean) | undefined;
}

/** Faults waiting for the requests they will spoil, in the order they were injected. */
export class FaultQueue {
  private pending: PendingFault[] = [];

  add(fault: RpdeFault, options: FaultOptions = {}): void {
    const times = options.times ?? 1;
    if (!(times > 0)) throw new RangeError(`fault ${fault.type}: times must be positive`);
    this.pending.push({ fault, remaining: times, match: options.match });
  }

  clear(): void {
    this.pending = [];
  }

  get size(): number {
    return this.pending.length;
  }

  /**
   * The fault for this request, one per response: the first injected one that matches the URL
   * and, for a page fault, `applies` to the page about to be served. Only that one is used up, so
   * faults injected one after the other spoil consecutive responses, and a page fault waits for a
   * page it makes sense on.
   */
  take(url: URL, applies: (fault: PageFault) => boolean): RpdeFault | undefined {
    const entry = this.pending.find(
      (candidate) =>
        (candidate.match === undefined || candidate.match(url)) &&
        (isTransportFault(candidate.fault) || applies(candidate.fault)),
    );
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.pending = this.pending.filter((candidate) => candidate !== entry);
    return entry.fault;
  }

}
