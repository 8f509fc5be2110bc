import type { Logger } from 'pino';
import { detailsWithFindings } from '../../core/findings.js';
import type { JsonValue } from '../../core/json.js';
import type { ApplyCounts, ChangeOp } from '../../core/ops.js';
import type { RecordView } from '../../core/records.js';
import type { ReadContext, SourceEvent, StreamSource } from '../../core/source.js';
import { ConformanceReport } from './conformance.js';
import { cursorJson, readCursor, type RpdeCursor } from './cursor.js';
import { RpdeFeedError } from './feed-error.js';
import { resolveNext, normaliseFeedUrl, sameFeedPath, sameFeedUrl } from './feed-url.js';
import type { FetchPageOptions } from './fetch-page.js';
import { replayFindings } from './finding-log.js';
import { pageOf } from './page-decoder.js';
import { PageLoader, type LoadedPage } from './page-loader.js';
import { itemRecords, itemsTableSpec, markSeenOps, pruneTombstonesOps, sweepUnseenOp, upsertItemsOp } from './items-table.js';
import { RpdePageError } from './page.js';
import { FeedChecks } from './page-checks.js';

export interface RpdeFeedSettings {
  /** `rpde:{jobId}:{feed-name}`. */
  readonly id: string;
  readonly jobId: string;
  /** The feed's base URL: where a full pass starts. */
  readonly feedUrl: string;
  /** The mirror table (`{prefix}_items`), already validated as an identifier. */
  readonly table: string;
  /** At the last page, the feed is not polled again sooner than this (never below 8 s). */
  readonly pollIntervalMs: number;
  readonly retryAfterDefault: { readonly minMs: number; readonly maxMs: number };
  readonly tombstoneRetentionMs: number;
  /** A cursor that has not progressed for longer than this is not trusted: deletions may have been missed. */
  readonly resyncAfterMs: number;
  /** Origins besides the feed's own that `next` may lead to. */
  readonly allowedOrigins: readonly string[];
  readonly maxPageBytes?: number;
  readonly pruneEveryMs?: number;
  readonly now?: () => Date;
  readonly random?: () => number;
}

export const MIN_POLL_INTERVAL_MS = 8_000;
const DEFAULT_MAX_PAGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_PRUNE_EVERY_MS = 3_600_000;

/**
 * One RPDE feed mirrored into one table (docs/rpde.md). Each page is one commit: its items are
 * upserted or tombstoned (newest `modified` wins) together with the page's `next`, so a crash
 * anywhere replays at most one page, harmlessly. A run follows `next` until the last page (no
 * items and `next` is the page's own URL, after normalisation) and returns; the scheduler polls
 * again later. Conformance problems are counted in the checkpoint details rather than thrown,
 * unless the feed cannot advance.
 */
export class RpdeFeedSource implements StreamSource {
  readonly kind = 'rpde';
  readonly id: string;
  readonly jobId: string;
  readonly feedUrl: string;
  readonly table: string;
  readonly pollIntervalMs: number;
  /** One record per live item: id, kind, modified (as the feed wrote it) and data as JSON text; a tombstone is no record. */
  readonly records: RecordView;
  private readonly allowedOrigins: readonly string[];
  private readonly base: URL;
  private readonly now: () => Date;
  private readonly random: () => number;

  constructor(private readonly settings: RpdeFeedSettings) {
    this.id = settings.id;
    this.jobId = settings.jobId;
    this.feedUrl = settings.feedUrl;
    this.table = settings.table;
    this.records = itemRecords(settings.table);
    this.pollIntervalMs = Math.max(MIN_POLL_INTERVAL_MS, settings.pollIntervalMs);
    this.base = new URL(settings.feedUrl);
    this.allowedOrigins = [this.base.origin, ...settings.allowedOrigins.map((origin) => new URL(origin).origin)];
    this.now = settings.now ?? (() => new Date());
    this.random = settings.random ?? Math.random;
  }

  async *read(ctx: ReadContext): AsyncIterable<SourceEvent> {
    const { log, signal } = ctx;
    const report = ConformanceReport.fromDetails(ctx.details, this.now);
    let lastResync = lastResyncOf(ctx.details);
    let cursor = this.startingPoint(readCursor(ctx.cursor), passOfDetails(ctx.details), log, ctx.requested ?? false);
    if (cursor === undefined) return;
    let committed: JsonValue = ctx.cursor;
    const details = (): JsonValue =>
      detailsWithFindings(
        {
          feed: this.feedUrl,
          table: this.table,
          pass: { number: cursor?.pass ?? 0, startedAt: new Date(cursor?.pass ?? 0).toISOString(), sweeping: cursor?.sweeping ?? false },
          lastResync,
        },
        report.toFindings(),
      );

    const checks = new FeedChecks(report, cursor.last ?? undefined, cursor.strategy ?? undefined);
    const visited = new Set<string>();
    const fetchOptions: FetchPageOptions = {
      http: ctx.http,
      signal,
      allowedOrigins: this.allowedOrigins,
      maxPageBytes: this.settings.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES,
      retryAfterDefault: this.settings.retryAfterDefault,
      random: this.random,
      report,
    };
    // Pages are requested and decoded ahead while the store commits the current one (page-loader.ts).
    const loader = new PageLoader(fetchOptions, (url) => !visited.has(normaliseFeedUrl(url)));
    let tableReady = false;
    let pages = 0;
    try {
      for (;;) {
        const url = cursor.next;
        visited.add(normaliseFeedUrl(url));
        let headers: Readonly<Record<string, string>>;
        let loaded: LoadedPage;
        let page;
        /** Where the page came from: `url`, or where its redirects led. */
        let servedAt: string;
        try {
          loaded = await loader.take(url);
          replayFindings(loaded.findings, report);
          if (loaded.fetched === undefined || loaded.decoded === undefined) throw loaded.fetchError;
          headers = loaded.fetched.headers;
          servedAt = loaded.fetched.url;
          visited.add(normaliseFeedUrl(servedAt));
          replayFindings(loaded.decoded.findings, report);
          page = pageOf(loaded.decoded);
        } catch (error) {
          // Keep what was learnt about the feed (C1, C4...) even though the cursor cannot move.
          if (!signal.aborted) yield { type: 'checkpoint', cursor: committed, details: details() };
          throw error;
        }
        pages += 1;

        const requestUrl = new URL(servedAt);
        const resolved = resolveNext(page.next, servedAt);
        if (resolved === undefined) {
          report.record('C6', `next ${JSON.stringify(page.next)} is not an http(s) URL, at ${servedAt}`);
          yield { type: 'checkpoint', cursor: committed, details: details() };
          throw new RpdePageError(`page ${servedAt}: next ${JSON.stringify(page.next)} is not an http(s) URL`);
        }
        if (resolved.relative) report.record('C6', `next ${JSON.stringify(page.next)} resolved to ${resolved.url.href}`);
        // A redirected page may name either URL as its own (docs/rpde.md, "Paging and the last page").
        const nextIsSelf = sameFeedUrl(resolved.url, requestUrl) || sameFeedUrl(resolved.url, url);
        const isLast = page.itemCount === 0 && nextIsSelf;
        if (isLast && page.next !== url && page.next !== servedAt) report.record('C9', `last page ${servedAt} gives next ${page.next}`);
        if (page.itemCount === 0 && !nextIsSelf) report.record('C10', `empty page ${servedAt}`);
        const stuck = this.navigationProblem(page.itemCount, nextIsSelf, isLast, requestUrl, resolved.url, visited, report);

        const items = checks.check({
          url: requestUrl,
          rawNext: page.next,
          next: resolved.url,
          headers,
          items: page.items,
          itemCount: page.itemCount,
          isLast,
        });
        const nowIso = this.now().toISOString();
        const ops: ChangeOp[] = [];
        if (!tableReady) {
          ops.push({ op: 'ensureTable', spec: itemsTableSpec(this.table) });
          tableReady = true;
        }
        const deleted = items.reduce((count, item) => count + (item.state === 'deleted' ? 1 : 0), 0);
        let next: RpdeCursor = {
          ...cursor,
          // Verbatim: publishers encode cursors their own way, and only they can read them back.
          next: stuck !== undefined ? url : resolved.relative ? resolved.url.href : page.next,
          // A stuck page is committed (its items are good) but is no progress: a feed stuck for
          // longer than the deleted-item retention has lost deletions and needs a resync as well.
          at: stuck !== undefined ? cursor.at : nowIso,
          atEnd: isLast,
          passDeleted: cursor.sweeping ? cursor.passDeleted + deleted : 0,
          last: checks.lastPosition ?? null,
          strategy: checks.feedStrategy ?? null,
        };
        if (isLast && this.pruneDue(cursor)) {
          const cutoff = new Date(this.now().getTime() - this.settings.tombstoneRetentionMs).toISOString();
          ops.push(...pruneTombstonesOps(this.table, cutoff));
          next = { ...next, prunedAt: nowIso };
        }
        if (loaded.guess !== undefined && loaded.guess !== next.next) loader.dropAllBut(next.next);
        if (!isLast && stuck === undefined) {
          loader.request(next.next);
          // One turn of the event loop lets undici send the request now: the store applies and
          // commits this page synchronously next, and the request would otherwise wait for that
          // (bench: time spent waiting for pages 1.18 -> 0.78 s over three 100k-item harvests).
          await new Promise((resolve) => setImmediate(resolve));
        }
        // Creating the table and pruning old tombstones are not news: the deletions were counted when made.
        if (ops.length > 0) yield { type: 'changes', ops, countAs: 'housekeeping' };
        if (items.length > 0) {
          let written = 0;
          const onApplied = (counts: ApplyCounts) => {
            written += counts.upserted;
          };
          // Tombstones apart, so that they count as deletions; the page's order does not matter
          // between the two, since ids are unique within a page (checked) and newest wins.
          const live = items.filter((item) => item.state === 'updated');
          const gone = items.filter((item) => item.state === 'deleted');
          if (live.length > 0) yield { type: 'changes', ops: [upsertItemsOp(this.table, live, cursor.pass, nowIso)], onApplied };
          if (gone.length > 0) {
            yield { type: 'changes', ops: [upsertItemsOp(this.table, gone, cursor.pass, nowIso)], onApplied, countAs: 'deletions' };
          }
          // The feed still lists the items whose version was refused: unstamped, the sweep would tombstone them.
          if (checks.storeRefused(requestUrl, items.length, written) > 0) {
            yield { type: 'changes', ops: markSeenOps(this.table, items, cursor.pass) };
          }
        }
        if (isLast && cursor.sweeping) {
          let vanished = 0;
          yield {
            type: 'changes',
            ops: [sweepUnseenOp(this.table, cursor.pass, nowIso)],
            onApplied: (counts) => {
              vanished = counts.updated;
            },
            countAs: 'deletions',
          };
          const passStart = new Date(cursor.pass).toISOString();
          if (vanished > 0) report.record('C31', `${vanished} items not seen by the full pass started ${passStart}`, vanished);
          if (next.passDeleted === 0) report.record('C27', `no deleted item in the full pass started ${passStart}`);
          lastResync = { passStartedAt: passStart, finishedAt: nowIso, vanished };
          log.info({ feed: this.feedUrl, vanished }, 'RPDE full pass finished; items it did not see were tombstoned');
          next = { ...next, sweeping: false, passDeleted: 0 };
        }
        cursor = next;
        committed = cursorJson(next);
        yield { type: 'checkpoint', cursor: committed, details: details() };

        if (stuck !== undefined) {
          log.warn({ feed: this.feedUrl, problems: report.recordedInRun() }, stuck);
          throw new RpdeFeedError(stuck);
        }
        if (isLast) {
          const problems = report.recordedInRun();
          if (Object.keys(problems).length > 0) log.info({ pages, problems }, 'RPDE feed caught up, with conformance findings');
          return;
        }
        signal.throwIfAborted();
      }
    } finally {
      // A run ended early (failure, abort) leaves no request behind: pages ahead are read and dropped.
      await loader.settle();
    }
  }

  /**
   * Where this run starts: the committed cursor, a new full pass, or nowhere (a scheduled run that
   * comes less than the poll interval after the last page was reached; a requested one always reads).
   */
  private startingPoint(committed: RpdeCursor | undefined, lastPass: number, log: Logger, requested: boolean): RpdeCursor | undefined {
    const now = this.now();
    const fullPass = (previous: RpdeCursor | undefined): RpdeCursor => ({
      next: this.feedUrl,
      // Pass numbers must grow, also across a reset, which forgets the cursor but not the details.
      pass: Math.max(now.getTime(), (previous?.pass ?? 0) + 1, lastPass + 1),
      sweeping: true,
      passDeleted: 0,
      at: previous?.at ?? now.toISOString(),
      atEnd: false,
      prunedAt: previous?.prunedAt ?? null,
      last: null,
      strategy: null,
    });
    if (committed === undefined) {
      log.info({ feed: this.feedUrl }, 'RPDE full pass from the feed start (first sync or reset)');
      return fullPass(undefined);
    }
    const sinceMs = now.getTime() - Date.parse(committed.at);
    // An interrupted full pass is restarted too: tombstones of items it saw early may have expired.
    if (sinceMs > this.settings.resyncAfterMs) {
      log.warn(
        { feed: this.feedUrl, lastProgress: committed.at },
        'RPDE feed made no progress for longer than the deleted-item retention (unreachable or stuck): full pass (resync)',
      );
      return fullPass(committed);
    }
    if (committed.atEnd && sinceMs < this.pollIntervalMs && !requested) {
      log.info(
        { feed: this.feedUrl, lastReached: committed.at, pollIntervalMs: this.pollIntervalMs },
        `run skipped: the feed's last page was read ${Math.round(sinceMs / 1000)} s ago, less than its pollInterval`,
      );
      return undefined;
    }
    return committed;
  }

  /** Why `next` must not be followed, if it must not (and the check it is reported under). */
  private navigationProblem(
    itemCount: number,
    nextIsSelf: boolean,
    isLast: boolean,
    pageUrl: URL,
    next: URL,
    visited: ReadonlySet<string>,
    report: ConformanceReport,
  ): string | undefined {
    if (itemCount > 0 && nextIsSelf) {
      report.record('C8', `${pageUrl.href} has ${itemCount} items and itself as next`);
      return `self-loop: page ${pageUrl.href} has items and gives itself as next; not followed (C8)`;
    }
    if (isLast) return undefined;
    if (!this.allowedOrigins.includes(next.origin)) {
      report.record('C7:refused', `next ${next.href} from ${pageUrl.href}`);
      return `next ${next.href} leaves the feed's origin ${pageUrl.origin} and is not in allowedOrigins; not followed (C7)`;
    }
    // Compared with the page too: a feed whose base URL redirects elsewhere pages on from there.
    if (!sameFeedPath(this.base, next) && !sameFeedPath(pageUrl, next)) {
      report.record('C7', `next ${next.href} from ${pageUrl.href} leaves ${this.feedUrl}`);
    }
    if (visited.has(normaliseFeedUrl(next))) {
      report.record('C8:cycle', `next ${next.href} from ${pageUrl.href} was already read in this run`);
      return `cycle: next ${next.href} leads back to a page already read in this run; not followed (C8)`;
    }
    return undefined;
  }

  private pruneDue(cursor: RpdeCursor): boolean {
    if (cursor.prunedAt === null) return true;
    return this.now().getTime() - Date.parse(cursor.prunedAt) >= (this.settings.pruneEveryMs ?? DEFAULT_PRUNE_EVERY_MS);
  }
}

/** The number of the last pass, kept in the details so that a reset does not reuse it. */
function passOfDetails(details: JsonValue): number {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return 0;
  const pass = details['pass'];
  if (typeof pass !== 'object' || pass === null || Array.isArray(pass)) return 0;
  return typeof pass['number'] === 'number' ? pass['number'] : 0;
}

function lastResyncOf(details: JsonValue): JsonValue {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return null;
  return details['lastResync'] ?? null;
}
