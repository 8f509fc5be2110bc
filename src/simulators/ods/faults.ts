/**
 * Faults a test can make the next matching answers suffer: what portals and the networks in front
 * of them do to a client in the middle of a sync.
 */
export type OdsFault =
  /** Answer with this status (5xx: a short HTML error page, as a proxy would). */
  | { readonly type: 'status'; readonly status: number }
  /** A 200 with an HTML page where JSON was expected (a login or maintenance page). */
  | { readonly type: 'html' }
  /** A 429 with the quota body, as when the day's calls are used up. */
  | { readonly type: 'quota' }
  /** An export that stops after this many records (default: half), in the middle of the next one. */
  | { readonly type: 'cutExport'; readonly afterRecords?: number }
  /**
   * The connection closes with no answer. On the Push API, `afterApplying` closes it after the
   * body was received and its records applied: the client cannot know its request took effect.
   */
  | { readonly type: 'drop'; readonly afterApplying?: boolean };

/** Which answers a fault may hit: the Explore API's, then the Push API's (push, delete by values, delete by id). */
export type OdsEndpoint = 'catalog' | 'catalog-export' | 'dataset' | 'records' | 'export' | 'push' | 'push-delete' | 'push-delete-id';

export interface FaultOptions {
  /** Default: any endpoint (a cutExport only ever hits exports). */
  readonly on?: OdsEndpoint;
  /** Only answers about this dataset id. */
  readonly dataset?: string;
  /** How many answers it spoils (default 1). */
  readonly times?: number;
  /** How many matching answers it lets through first (default 0): a listing that fails on its second page. */
  readonly after?: number;
}

interface Armed {
  readonly fault: OdsFault;
  readonly options: FaultOptions;
  remaining: number;
  spared: number;
}

export class FaultQueue {
  private armed: Armed[] = [];

  add(fault: OdsFault, options: FaultOptions = {}): void {
    this.armed.push({ fault, options, remaining: options.times ?? 1, spared: options.after ?? 0 });
  }

  /** The first armed fault that applies to this answer, counted as used. */
  take(endpoint: OdsEndpoint, dataset: string | undefined): OdsFault | undefined {
    const index = this.armed.findIndex(({ fault, options }) => {
      if (options.on !== undefined && options.on !== endpoint) return false;
      if (options.dataset !== undefined && options.dataset !== dataset) return false;
      return fault.type !== 'cutExport' || endpoint === 'export' || endpoint === 'catalog-export';
    });
    const armed = this.armed[index];
    if (armed === undefined) return undefined;
    if (armed.spared > 0) {
      armed.spared -= 1;
      return undefined;
    }
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.armed.splice(index, 1);
    return armed.fault;
  }

  clear(): void {
    this.armed = [];
  }
}
