/**
 * Faults a test can make the next matching answer suffer: what real servers and the networks in
 * front of them do to a client in the middle of a sync.
 */
export type NsiFault =
  /** Answer with this status (and an error body) instead of the content. */
  | { readonly type: 'status'; readonly status: number; readonly retryAfterSeconds?: number; readonly body?: string }
  /** A 200 with an HTML page (a proxy's maintenance or login page). */
  | { readonly type: 'html' }
  /** Send this many bytes of the body (after compression, as on the wire), then close the connection. */
  | { readonly type: 'cutBody'; readonly afterBytes: number }
  /** Fail after this many rows, the way a server does once the 200 is sent: an error text, then the connection closes. */
  | { readonly type: 'errorAfterRows'; readonly rows: number }
  /**
   * Pause between small chunks of the body; the first `afterRows` rows (default none) go out at
   * once, so a test reaches the slow part, say a client's open transaction, without waiting.
   */
  | { readonly type: 'slowBody'; readonly delayMs: number; readonly rowsPerChunk?: number; readonly afterRows?: number }
  /**
   * Insert a malformed row after this many rows: one of the answer's dataflow with action `X` (the
   * answer then has an ACTION column even when full), or one with more cells than the header.
   */
  | { readonly type: 'badRow'; readonly afterRows: number; readonly kind: 'unknownAction' | 'tooManyCells' };

export type FaultTarget = 'data' | 'metadata' | 'structure' | 'any';

interface Armed {
  readonly fault: NsiFault;
  readonly on: FaultTarget;
  remaining: number;
}

export class FaultQueue {
  private armed: Armed[] = [];

  /** The fault hits the next `times` (default 1) answers of that kind, in the order faults were injected. */
  inject(fault: NsiFault, options: { readonly on?: FaultTarget; readonly times?: number } = {}): void {
    this.armed.push({ fault, on: options.on ?? 'data', remaining: options.times ?? 1 });
  }

  take(kind: Exclude<FaultTarget, 'any'>): NsiFault | undefined {
    const index = this.armed.findIndex((a) => a.on === kind || a.on === 'any');
    if (index < 0) return undefined;
    const armed = this.armed[index]!;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.armed.splice(index, 1);
    return armed.fault;
  }

  clear(): void {
    this.armed = [];
  }

  get pending(): number {
    return this.armed.length;
  }
}
