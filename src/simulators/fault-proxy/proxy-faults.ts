/**
 * What the network between a client and a remote can do to one answer: the faults the fault proxy
 * (fault-proxy.ts) injects in front of any simulator, whatever its kind of source.
 */
export type ProxyFault =
  /**
   * The upstream answer's headers and its first `afterBytes` bytes (as on the wire, compressed if
   * it is), then the connection ends. `framing` is how the body was announced: with its full
   * Content-Length, chunked (no terminating chunk arrives), or delimited by the connection's close
   * (a clean close: only the content can tell that it is cut). `plain` asks the upstream for an
   * uncompressed answer, so that no gzip trailer gives the cut away either.
   */
  | { readonly type: 'cut'; readonly afterBytes: number; readonly framing: BodyFraming; readonly plain?: boolean }
  /** The upstream answer's headers and first `afterBytes` bytes, then nothing for `ms` (default: until the client gives up), then the rest. */
  | { readonly type: 'stall'; readonly afterBytes: number; readonly ms?: number }
  /** A TCP reset: before any answer (`afterBytes` undefined), or after the headers and `afterBytes` bytes of the body. */
  | { readonly type: 'reset'; readonly afterBytes?: number }
  /** This status instead of the answer (a short text body), with a Retry-After when given. */
  | { readonly type: 'status'; readonly status: number; readonly retryAfter?: string }
  /** A 200 with an HTML page (a proxy's login or maintenance page). */
  | { readonly type: 'html' }
  /** Nothing for `ms` before the request is forwarded: a server that thinks long before its first byte. */
  | { readonly type: 'slowFirstByte'; readonly ms: number }
  /** A 200 whose gzip body decodes to `decodedBytes` of `fill` (default `0`) while only a few kilobytes a megabyte travel. */
  | { readonly type: 'gzipBomb'; readonly decodedBytes: number; readonly contentType: string; readonly fill?: string }
  /** This answer instead of the upstream one (hostile content), framed with its Content-Length. */
  | { readonly type: 'replace'; readonly status?: number; readonly contentType: string; readonly body: string | Uint8Array };

export type BodyFraming = 'content-length' | 'chunked' | 'close';

export type ProxyFaultType = ProxyFault['type'];

export const PROXY_FAULT_TYPES: readonly ProxyFaultType[] = ['cut', 'stall', 'reset', 'status', 'html', 'slowFirstByte', 'gzipBomb', 'replace'];

export interface ProxyFaultOptions {
  /** How many answers it spoils; Infinity for "from now on". Default 1. */
  readonly times?: number;
  /** Only requests whose path and query (e.g. `/rest/data/...`) this accepts. Default: every request. */
  readonly match?: RegExp | ((target: string) => boolean);
}

interface Armed {
  readonly fault: ProxyFault;
  readonly match: ProxyFaultOptions['match'];
  remaining: number;
}

/** Faults waiting for the requests they will spoil, first injected first used; one fault an answer. */
export class ProxyFaultQueue {
  private armed: Armed[] = [];
  private readonly applied = new Map<string, number>();

  add(fault: ProxyFault, options: ProxyFaultOptions = {}): void {
    const times = options.times ?? 1;
    if (!(times > 0)) throw new RangeError(`fault ${fault.type}: times must be positive`);
    this.armed.push({ fault, match: options.match, remaining: times });
  }

  take(target: string): ProxyFault | undefined {
    const index = this.armed.findIndex(({ match }) => match === undefined || (typeof match === 'function' ? match(target) : match.test(target)));
    const armed = this.armed[index];
    if (armed === undefined) return undefined;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.armed.splice(index, 1);
    const label = faultLabel(armed.fault);
    this.applied.set(label, (this.applied.get(label) ?? 0) + 1);
    return armed.fault;
  }

  clear(): void {
    this.armed = [];
  }

  get pending(): number {
    return this.armed.length;
  }

  /** How many answers each kind of fault spoilt so far, by label (`cut/chunked`, `status 503`...). */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.applied.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** A fault's kind with the detail that makes it a different failure: `cut/close`, `status 429 +Retry-After`, `reset mid-body`. */
export function faultLabel(fault: ProxyFault): string {
  switch (fault.type) {
    case 'cut':
      return `cut/${fault.framing}`;
    case 'status':
      return `status ${fault.status}${fault.retryAfter === undefined ? '' : ' +Retry-After'}`;
    case 'reset':
      return fault.afterBytes === undefined ? 'reset before answer' : 'reset mid-body';
    default:
      return fault.type;
  }
}
