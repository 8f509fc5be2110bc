import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';
import { defineSourceKind, type JobCommon } from '../../core/source-kind.js';
import { assertOwnTablesApart, type TableClaim } from '../../core/table-claims.js';
import { isValidIdentifier } from '../../core/identifiers.js';
import { discoverFeeds } from './discovery.js';
import { defaultTableStart, itemsTable, nameFeeds, type FeedEntry } from './feed-names.js';
import { MIN_POLL_INTERVAL_MS, RpdeFeedSource } from './rpde-source.js';

function duration(fallback: string, minMs = 0) {
  return z
    .string()
    .default(fallback)
    .refine((text) => parseDuration(text) !== undefined, { message: 'expected a duration such as 30s, 5m, 1h or 7d' })
    .refine((text) => (parseDuration(text) ?? 0) >= minMs, { message: `must be at least ${minMs / 1000}s` });
}

const httpUrl = z.url({ protocol: /^https?$/, message: 'expected an absolute http(s) URL' });

const feedEntry = z.union([
  httpUrl,
  z.strictObject({
    url: httpUrl,
    prefix: z
      .string()
      .refine((prefix) => isValidIdentifier(`${prefix}_items`), {
        message: 'expected a table prefix: a letter, then letters, digits or _ (at most 57 characters)',
      })
      .optional()
      .describe('Table prefix: the feed is mirrored into {prefix}_items. Default: {job id}_{feed name}.'),
  }),
]);

export const rpdeOptions = z.object({
  feeds: z.array(feedEntry).min(1).optional().describe('RPDE feed URLs, each a stream `rpde:{job}:{feed name}`.'),
  datasetSite: httpUrl.optional().describe("A dataset site whose JSON-LD `distribution` lists the RPDE feeds to mirror."),
  dataCatalog: httpUrl.optional().describe('A data catalog (hasPart -> catalogs, dataset -> dataset sites) to discover feeds from.'),
  pollInterval: duration('30s', MIN_POLL_INTERVAL_MS).describe('At the last page, poll no more often than this (at least 8s).'),
  retryAfterDefault: z
    .strictObject({ min: duration('60m'), max: duration('120m') })
    .prefault({})
    .describe('Wait after a 503/429 without Retry-After: random between min and max (the RPDE spec says 60-120 minutes).'),
  tombstoneRetention: duration('7d').describe('Deleted items are kept as tombstones this long, then pruned.'),
  resyncAfter: duration('7d').describe('A feed that made no progress for this long (unreachable, or stuck on a self-loop, cycle or refused next) is re-read in full; items not seen are tombstoned.'),
  allowedOrigins: z
    .array(httpUrl)
    .default([])
    .describe("Origins besides a feed's own that its `next` URLs may lead to; others are refused."),
}).refine((options) => options.feeds !== undefined || options.datasetSite !== undefined || options.dataCatalog !== undefined, {
  message: 'an rpde job needs feeds, datasetSite or dataCatalog',
});

export type RpdeOptions = z.infer<typeof rpdeOptions>;

function listedFeeds(options: RpdeOptions): FeedEntry[] {
  return (options.feeds ?? []).map((feed) => (typeof feed === 'string' ? { url: feed } : feed));
}

/**
 * Each listed feed's `{prefix}_items`. With a dataset site or data catalog, the feeds found there
 * are named only after discovery, by default, and their names can lengthen those of listed feeds
 * named by default: the job then claims every table starting as its default prefixes do, and
 * exactly only the listed feeds given a prefix.
 */
function rpdeTables(job: JobCommon, options: RpdeOptions): TableClaim[] {
  const discovery = options.datasetSite !== undefined ? 'datasetSite' : options.dataCatalog !== undefined ? 'dataCatalog' : undefined;
  const listed = listedFeeds(options);
  const claims: TableClaim[] = nameFeeds(job.id, listed)
    .filter((feed) => discovery === undefined || listed[feed.index]?.prefix !== undefined)
    .map((feed) => ({ name: itemsTable(feed.prefix), path: ['feeds', feed.index], by: `feed ${feed.url}` }));
  if (discovery !== undefined) {
    claims.push({ name: defaultTableStart(job.id), family: true, path: [discovery], by: `the feeds found at ${options[discovery]}` });
  }
  return claims;
}

/**
 * The `rpde` job kind: one stream per feed, listed in the config or discovered from a dataset
 * site or data catalog.
 */
export const rpdeKind = defineSourceKind({
  kind: 'rpde',
  pushable: true,
  options: rpdeOptions,
  tables: rpdeTables,
  async expand(job, options, ctx) {
    const entries = listedFeeds(options);
    const listed = entries.length;
    if (options.datasetSite !== undefined || options.dataCatalog !== undefined) {
      const discovered = await discoverFeeds(
        { datasetSite: options.datasetSite, dataCatalog: options.dataCatalog },
        { http: ctx.http, signal: ctx.signal, log: ctx.log },
      );
      for (const problem of discovered.problems) ctx.log.warn({ job: job.id, problem }, 'RPDE discovery');
      ctx.log.info({ job: job.id, feeds: discovered.feeds.length }, 'RPDE feeds discovered');
      entries.push(...discovered.feeds.map((feed) => ({ url: feed.url })));
    }
    const ms = (text: string) => parseDuration(text) as number;
    const feeds = nameFeeds(job.id, entries);
    assertOwnTablesApart({
      id: job.id,
      claims: feeds.map((feed) => ({
        name: itemsTable(feed.prefix),
        path: feed.index < listed ? ['feeds', feed.index] : ['discovered', feed.index - listed],
        by: `feed ${feed.url}`,
      })),
    });
    return feeds.map(
      (feed) =>
        new RpdeFeedSource({
          id: `rpde:${job.id}:${feed.name}`,
          jobId: job.id,
          feedUrl: feed.url,
          table: itemsTable(feed.prefix),
          pollIntervalMs: ms(options.pollInterval),
          retryAfterDefault: { minMs: ms(options.retryAfterDefault.min), maxMs: ms(options.retryAfterDefault.max) },
          tombstoneRetentionMs: ms(options.tombstoneRetention),
          resyncAfterMs: ms(options.resyncAfter),
          allowedOrigins: options.allowedOrigins,
        }),
    );
  },
});
