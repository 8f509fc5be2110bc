import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';
import { isValidIdentifier } from '../../core/identifiers.js';
import { defineSourceKind, type JobCommon } from '../../core/source-kind.js';
import { assertOwnTablesApart, type TableClaim } from '../../core/table-claims.js';
import { CatalogListing } from './catalog-listing.js';
import { ExploreClient } from './explore-client.js';
import { defaultPrefix, portalBase, portalOptions, prefixOption } from './ods-options.js';
import { recordTableName } from './record-table.js';
import { OdsRecordsSource } from './records-source.js';

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((text) => parseDuration(text) !== undefined, { message: 'expected a duration such as 30s, 5m, 1h or 7d' });

const datasetEntry = z.union([
  z.string().min(1),
  z.strictObject({
    id: z.string().min(1).describe('The dataset_id on the portal.'),
    table: z
      .string()
      .refine(isValidIdentifier, { message: 'expected a table name: a letter, then letters, digits or _ (at most 63 characters)' })
      .optional()
      .describe('The table the records go to. Default: {prefix}_{dataset id}.'),
    key: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("Fields that identify a record across edits (the dataset's Unique ID fields); default: the record id, a hash of all values."),
  }),
]);

export const odsRecordsOptions = z
  .object({
    ...portalOptions,
    datasets: z.array(datasetEntry).min(1).optional().describe('Datasets to mirror, by dataset_id, or {id, table?, key?}; each is a stream ods:{job}:{dataset id}.'),
    where: z.string().min(1).optional().describe('Instead of (or besides) datasets: mirror every dataset the catalog lists for this ODSQL filter, found when the job starts.'),
    prefix: prefixOption('_x').optional().describe('Table prefix: the records of a dataset go to {prefix}_{dataset id}. Default: the job id.'),
    mode: z.enum(['snapshot', 'incremental']).default('snapshot').describe('snapshot: export again when data_processed moves, and apply the difference; incremental (realtime datasets): records since the newest mirrored, and a periodic reconciliation of ids.'),
    overlap: duration('5m').describe('Incremental mode: re-read records this much older than the newest one mirrored.'),
    reconcileEvery: duration('1d').describe('Incremental mode: how often to export the ids alone and remove records deleted at the portal.'),
  })
  .refine((options) => options.datasets !== undefined || options.where !== undefined, { message: 'an ods-records job needs datasets or where' });

export type OdsRecordsOptions = z.infer<typeof odsRecordsOptions>;

interface DatasetChoice {
  readonly id: string;
  readonly table: string | undefined;
  readonly key: readonly string[] | undefined;
}

function listed(options: OdsRecordsOptions): DatasetChoice[] {
  return (options.datasets ?? []).map((entry) => (typeof entry === 'string' ? { id: entry, table: undefined, key: undefined } : { id: entry.id, table: entry.table, key: entry.key }));
}

function prefixOf(job: JobCommon, options: OdsRecordsOptions): string {
  return options.prefix ?? defaultPrefix(job.id, '_x');
}

/**
 * Each listed dataset's table; with `where`, every table named by default (`{prefix}_...`), since
 * the datasets the catalog lists are known only when the job starts.
 */
function recordsTables(job: JobCommon, options: OdsRecordsOptions): TableClaim[] {
  const prefix = prefixOf(job, options);
  const claims: TableClaim[] = listed(options).map((dataset, index) => ({
    name: dataset.table ?? recordTableName(prefix, dataset.id),
    path: ['datasets', index],
    by: `dataset ${dataset.id} of ${options.portal}`,
  }));
  if (options.where !== undefined) claims.push({ name: `${prefix}_`, family: true, path: ['where'], by: `the datasets of ${options.portal} matching the where` });
  return claims;
}

/** The `ods-records` job kind: one stream per dataset, listed or found by a catalog query. */
export const odsRecordsKind = defineSourceKind({
  kind: 'ods-records',
  pushable: true,
  options: odsRecordsOptions,
  tables: recordsTables,
  async expand(job, options, ctx) {
    const portal = portalBase(options.portal);
    const prefix = prefixOf(job, options);
    const datasets = listed(options);
    if (options.where !== undefined) {
      const client = new ExploreClient({ portal, apiKey: options.apiKey, http: ctx.http, signal: ctx.signal, log: ctx.log });
      const listing = new CatalogListing(client, { where: options.where, refine: [] }, `catalog of ${portal}`, ctx.log);
      const known = new Set(datasets.map((dataset) => dataset.id));
      for await (const page of listing.pages()) {
        for (const dataset of page) {
          if (known.has(dataset.datasetId)) continue;
          known.add(dataset.datasetId);
          datasets.push({ id: dataset.datasetId, table: undefined, key: undefined });
        }
      }
      ctx.log.info({ job: job.id, datasets: datasets.length }, 'ODS datasets found for the where');
    }
    const tables = datasets.map((dataset) => dataset.table ?? recordTableName(prefix, dataset.id));
    assertOwnTablesApart({ id: job.id, claims: datasets.map((dataset, index) => ({ name: tables[index] as string, path: ['datasets', index], by: `dataset ${dataset.id}` })) });
    const ms = (text: string) => parseDuration(text) as number;
    return datasets.map(
      (dataset, index) =>
        new OdsRecordsSource({
          id: `ods:${job.id}:${dataset.id}`,
          jobId: job.id,
          portal,
          apiKey: options.apiKey,
          datasetId: dataset.id,
          table: tables[index] as string,
          uniqueKey: dataset.key,
          mode: options.mode,
          overlapMs: ms(options.overlap),
          reconcileEveryMs: ms(options.reconcileEvery),
        }),
    );
  },
});
