import type { JsonValue } from '../../core/json.js';
import { sessionData, type SessionKind } from './session-data.js';

/** RPDE 1.0's two ordering strategies (docs/rpde.md, "Ordering strategies"). */
export type OrderingStrategy = 'modified-id' | 'change-number';

/**
 * A `modified` base above 2^53, like the SQL Server rowversion / .NET ticks values real feeds emit
 * (docs/rpde.md, "Ordering strategies"): any consumer that reads `modified` through a JS number gets it wrong.
 */
export const LARGE_MODIFIED_BASE = 16868761346890000001n;

export const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1000;

/** One published state of an item: its place in the feed is (modified, id), or modified alone. */
export interface FeedVersion {
  readonly id: string;
  readonly kind: string;
  readonly state: 'updated' | 'deleted';
  readonly modified: bigint;
  /** The item's `data` as JSON text; absent on tombstones. */
  readonly dataJson: string | undefined;
  /**
   * Filtered out by the publisher (RPDE §5.1.6 in-stream filtering): it holds its place in the list,
   * so the page it falls on can come out empty without being the last page, but is never shown.
   */
  readonly hidden: boolean;
  /** Whether a version of this item was ever shown: hiding such an item must publish a tombstone. */
  readonly everShown: boolean;
  readonly revision: number;
  /** The feed clock (ms) when this version was written: tombstones are purged after the retention. */
  readonly writtenAt: number;
}

/** Where a page starts: strictly after this position (the spec's `>` queries). */
export type FeedPosition =
  | { readonly afterModified: bigint; readonly afterId: string }
  | { readonly afterChangeNumber: bigint };

export interface FeedScan {
  /** The versions shown on the page, in feed order. */
  readonly shown: readonly FeedVersion[];
  /** The last version the page was built from, shown or not: the next URL is derived from it. */
  readonly lastScanned: FeedVersion | undefined;
}

export interface LiveItem {
  readonly kind: string;
  readonly modified: bigint;
  readonly data: JsonValue;
}

export interface UpsertSpec {
  readonly id: string;
  /** The item's data; a new generated revision when omitted. */
  readonly data?: { [key: string]: JsonValue };
  /** Filter the item out of the feed from now on (a shown item then leaves through a tombstone). */
  readonly hidden?: boolean;
}

export interface SeedOptions {
  /** Seeded items whose index this returns true for are filtered out (empty non-last pages). */
  readonly hidden?: (index: number) => boolean;
  /** Modified-id strategy: how many consecutive items share one `modified`, so `afterId` matters. */
  readonly tiesPerTimestamp?: number;
}

export interface RpdeFeedOptions {
  readonly strategy?: OrderingStrategy;
  readonly kind?: SessionKind;
  /** First `modified` value; then +1 per write. Default: the epoch in ms (modified-id), 1 (change-number). */
  readonly modifiedBase?: bigint;
  /** How long a tombstone stays in the feed before it is purged; the spec's minimum is 7 days. */
  readonly tombstoneRetentionMs?: number;
  /** The feed's clock in ms, for tombstone retention; tests pass a fake one. */
  readonly now?: () => number;
  /** Origin used inside the JSON-LD `@id`s of the generated data. */
  readonly dataOrigin?: string;
  readonly idPrefix?: string;
}

/** How many superseded entries may pile up in the list before it is compacted. */
const COMPACT_MIN_DEAD = 1024;
const ID_DIGITS = 7;

/**
 * The publisher's side of an RPDE feed, in memory: a list ordered by (modified, id) or by change
 * number, in which every write moves the item to the end with a new `modified` that is greater
 * than every existing one, as the spec requires of publishers. Writes may happen at any moment,
 * also between two page requests of a harvest.
 */
export class RpdeFeed {
  readonly strategy: OrderingStrategy;
  readonly kind: SessionKind;
  readonly tombstoneRetentionMs: number;
  private readonly now: () => number;
  private readonly dataOrigin: string;
  private readonly idPrefix: string;
  /** Every written version in feed order, including superseded ones (skipped, compacted later). */
  private list: FeedVersion[] = [];
  private dead = 0;
  private readonly current = new Map<string, FeedVersion>();
  /** Tombstones in the order written, i.e. in order of expiry. */
  private tombstones: FeedVersion[] = [];
  private tombstoneHead = 0;
  private clock: bigint;
  private nextIndex = 1;
  private writes = 0;

  constructor(options: RpdeFeedOptions = {}) {
    this.strategy = options.strategy ?? 'modified-id';
    this.kind = options.kind ?? 'SessionSeries';
    this.tombstoneRetentionMs = options.tombstoneRetentionMs ?? SEVEN_DAYS_MS;
    this.now = options.now ?? Date.now;
    this.dataOrigin = options.dataOrigin ?? 'https://leisure.example.org';
    this.idPrefix = options.idPrefix ?? (this.kind === 'SessionSeries' ? 'ss-' : 'sched-');
    const base = options.modifiedBase ?? (this.strategy === 'change-number' ? 1n : BigInt(this.now()));
    if (base < 1n) throw new RangeError('modifiedBase must be a positive integer');
    this.clock = base - 1n;
  }

  /** Adds `count` new items with generated data; returns their ids in feed order. */
  seed(count: number, options: SeedOptions = {}): string[] {
    const ties = this.strategy === 'modified-id' ? Math.max(1, options.tiesPerTimestamp ?? 4) : 1;
    const ids: string[] = [];
    let batch: UpsertSpec[] = [];
    for (let index = 0; index < count; index += 1) {
      const id = this.newId();
      ids.push(id);
      batch.push({ id, hidden: options.hidden?.(index) ?? false });
      if (batch.length === ties) {
        this.upsertMany(batch);
        batch = [];
      }
    }
    if (batch.length > 0) this.upsertMany(batch);
    return ids;
  }

  /** A fresh id in the feed's id sequence (fixed width, so string and numeric order agree). */
  newId(): string {
    const id = `${this.idPrefix}${String(this.nextIndex).padStart(ID_DIGITS, '0')}`;
    this.nextIndex += 1;
    return id;
  }

  /** Creates or updates one item: it moves to the end of the feed with a new `modified`. */
  upsert(id: string, options: Omit<UpsertSpec, 'id'> = {}): FeedVersion {
    const [version] = this.upsertMany([{ id, ...options }]);
    return version as FeedVersion;
  }

  /**
   * Writes several items at once. With the modified-id strategy they share one `modified` (as rows
   * written in one publisher transaction do), so consumers must page through them by `afterId`.
   */
  upsertMany(specs: readonly UpsertSpec[]): FeedVersion[] {
    const byId = new Map<string, UpsertSpec>();
    for (const spec of specs) byId.set(spec.id, spec);
    const sorted = [...byId.values()].sort((a, b) => compareIds(a.id, b.id));
    const shared = this.strategy === 'modified-id' ? this.tick() : undefined;
    return sorted.map((spec) => this.write(spec, shared ?? this.tick()));
  }

  /** Publishes a tombstone for a live item; undefined when there is nothing live to delete. */
  delete(id: string): FeedVersion | undefined {
    return this.deleteMany([id])[0];
  }

  deleteMany(ids: readonly string[]): (FeedVersion | undefined)[] {
    const shared = this.strategy === 'modified-id' ? this.tick() : undefined;
    return ids.map((id) => {
      const previous = this.current.get(id);
      if (!previous || previous.state === 'deleted') return undefined;
      return this.append({
        id,
        kind: this.kind,
        state: 'deleted',
        modified: shared ?? this.tick(),
        dataJson: undefined,
        hidden: !previous.everShown,
        everShown: previous.everShown,
        revision: previous.revision,
        writtenAt: this.now(),
      });
    });
  }

  /** Drops tombstones older than the retention period, as a publisher's clean-up job does. */
  purgeExpired(): number {
    const cutoff = this.now() - this.tombstoneRetentionMs;
    let purged = 0;
    while (this.tombstoneHead < this.tombstones.length) {
      const tombstone = this.tombstones[this.tombstoneHead] as FeedVersion;
      if (tombstone.writtenAt > cutoff) break;
      this.tombstoneHead += 1;
      if (this.current.get(tombstone.id) === tombstone) {
        this.current.delete(tombstone.id);
        this.dead += 1;
        purged += 1;
      }
    }
    if (purged > 0) this.writes += 1;
    if (this.tombstoneHead > COMPACT_MIN_DEAD && this.tombstoneHead * 2 > this.tombstones.length) {
      this.tombstones = this.tombstones.slice(this.tombstoneHead);
      this.tombstoneHead = 0;
    }
    this.compactIfWorthIt();
    return purged;
  }

  /**
   * The items a page is built from: up to `limit` versions strictly after `position` (from the
   * beginning of time when null). Filtered versions count towards the limit but are not shown.
   */
  scan(position: FeedPosition | null, limit: number): FeedScan {
    const shown: FeedVersion[] = [];
    let lastScanned: FeedVersion | undefined;
    let used = 0;
    for (let i = position ? this.firstAfter(position) : 0; i < this.list.length && used < limit; i += 1) {
      const version = this.list[i] as FeedVersion;
      if (this.current.get(version.id) !== version) continue;
      used += 1;
      lastScanned = version;
      if (!version.hidden) shown.push(version);
    }
    return { shown, lastScanned };
  }

  /** The current version of an item, tombstones included (until purged). */
  get(id: string): FeedVersion | undefined {
    return this.current.get(id);
  }

  /** The first item a consumer sees when it starts from the beginning, if any. */
  head(): FeedVersion | undefined {
    for (const version of this.list) {
      if (this.current.get(version.id) === version && !version.hidden && version.state === 'updated') return version;
    }
    return undefined;
  }

  /** What a mirror must hold once it has read up to the last page: every shown, non-deleted item. */
  liveItems(): Map<string, LiveItem> {
    const live = new Map<string, LiveItem>();
    for (const version of this.current.values()) {
      if (version.state !== 'updated' || version.hidden) continue;
      live.set(version.id, {
        kind: version.kind,
        modified: version.modified,
        data: JSON.parse(version.dataJson as string) as JsonValue,
      });
    }
    return live;
  }

  /** Generated data for an item revision: what `upsert` publishes when given no data. */
  generateData(id: string, revision: number): { [key: string]: JsonValue } {
    return sessionData(this.kind, id, revision, this.dataOrigin);
  }

  /** Grows with every change to what pages show (writes and purges): rendered pages older than it are stale. */
  get changeCount(): number {
    return this.writes;
  }

  /** The highest `modified` handed out so far. */
  get lastModified(): bigint {
    return this.clock;
  }

  private write(spec: UpsertSpec, modified: bigint): FeedVersion {
    const previous = this.current.get(spec.id);
    const revision = (previous?.revision ?? 0) + 1;
    const hide = spec.hidden ?? false;
    const data = spec.data ?? this.generateData(spec.id, revision);
    const leavesFilter = hide && (previous?.everShown ?? false);
    return this.append({
      id: spec.id,
      kind: this.kind,
      // The spec: an item that no longer passes the filter must pass through it as deleted.
      state: leavesFilter ? 'deleted' : 'updated',
      modified,
      dataJson: leavesFilter ? undefined : JSON.stringify(data),
      hidden: hide && !leavesFilter,
      everShown: (previous?.everShown ?? false) || !hide,
      revision,
      writtenAt: this.now(),
    });
  }

  private append(version: FeedVersion): FeedVersion {
    this.writes += 1;
    if (this.current.has(version.id)) this.dead += 1;
    this.current.set(version.id, version);
    if (version.state === 'deleted') this.tombstones.push(version);
    const last = this.list[this.list.length - 1];
    if (!last || this.compare(last, version) < 0) {
      this.list.push(version);
    } else {
      // Only reachable if a caller's batch order disagrees with ours; keeps the list sorted anyway.
      this.list.splice(this.firstAfterVersion(version), 0, version);
    }
    this.compactIfWorthIt();
    return version;
  }

  private tick(): bigint {
    this.clock += 1n;
    return this.clock;
  }

  private compactIfWorthIt(): void {
    if (this.dead < COMPACT_MIN_DEAD || this.dead * 2 < this.list.length) return;
    this.list = this.list.filter((version) => this.current.get(version.id) === version);
    this.dead = 0;
  }

  private compare(a: FeedVersion, b: FeedVersion): number {
    if (a.modified !== b.modified) return a.modified < b.modified ? -1 : 1;
    return this.strategy === 'modified-id' ? compareIds(a.id, b.id) : 0;
  }

  private firstAfterVersion(version: FeedVersion): number {
    return this.firstAfter(
      this.strategy === 'modified-id'
        ? { afterModified: version.modified, afterId: version.id }
        : { afterChangeNumber: version.modified },
    );
  }

  /** Binary search: the index of the first entry strictly after the position. */
  private firstAfter(position: FeedPosition): number {
    let low = 0;
    let high = this.list.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (isAfter(this.list[middle] as FeedVersion, position)) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}

/** The spec's queries: `modified > t OR (modified = t AND id > afterId)`, or `change_number > n`. */
function isAfter(version: FeedVersion, position: FeedPosition): boolean {
  if ('afterChangeNumber' in position) return version.modified > position.afterChangeNumber;
  if (version.modified !== position.afterModified) return version.modified > position.afterModified;
  return compareIds(version.id, position.afterId) > 0;
}

/** Ids compare by UTF-16 code units: the simulator's ids are ASCII and fixed-width, so every collation agrees. */
function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
