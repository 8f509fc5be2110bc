import { isRecord, type JsonValue } from '../../core/json.js';
import type { ChangeOp } from '../../core/ops.js';
import type { ReadContext, SourceEvent, StreamSource } from '../../core/source.js';
import { DATASET_COLUMNS, datasetRow, datasetsTable, hasInspireRecord, hasNoData, RESOURCE_COLUMNS, resourceRows, resourcesTable } from './catalog-rows.js';
import { CatalogListing } from './catalog-listing.js';
import type { OdsDatasetObject } from './dataset-object.js';
import { exploreClientFor, type PortalSettings } from './explore-client.js';

export interface CatalogSettings extends PortalSettings {
  readonly id: string;
  readonly jobId: string;
  readonly prefix: string;
  /** ODSQL `where` and `refine` (FACET:VALUE) filters, passed to the portal. */
  readonly where: string | undefined;
  readonly refine: readonly string[];
  /** Mirror datasets that carry an INSPIRE record (left out by default: geo catalogs harvest them). */
  readonly includeInspire: boolean;
  /** Mirror datasets with no records, attachments or alternative exports. */
  readonly includeEmpty: boolean;
  /** A dataset absent from this many consecutive complete listings is marked gone. */
  readonly goneAfter: number;
}

/** What a run left out, for the checkpoint details. */
interface Skipped {
  inspire: number;
  empty: number;
}

/**
 * The `ods-catalog` stream: one portal's catalog, listed whole on every run and staged, so the
 * store writes only the datasets whose metadata changed. A listing is complete when it ended
 * normally and saw as many datasets as the portal counted; only complete listings count a
 * missing dataset's absences, and one absent from `goneAfter` consecutive ones is marked gone
 * (it comes back when listed again). A listing that fails midway rolls back: nothing changes.
 *
 * Cursor: `{completeListings}`, the number of complete listings so far; `missing_since` in the
 * datasets table is the number of the first complete listing that missed the dataset.
 */
export class OdsCatalogSource implements StreamSource {
  readonly kind = 'ods-catalog';
  readonly id: string;
  readonly jobId: string;

  constructor(private readonly settings: CatalogSettings) {
    this.id = settings.id;
    this.jobId = settings.jobId;
  }

  async *read(ctx: ReadContext): AsyncIterable<SourceEvent> {
    const { settings } = this;
    const now = settings.now ?? (() => new Date());
    const client = exploreClientFor(settings, ctx);
    const datasets = datasetsTable(settings.prefix);
    const resources = resourcesTable(settings.prefix);
    yield {
      type: 'changes',
      ops: [
        { op: 'ensureTable', spec: datasets },
        { op: 'ensureTable', spec: resources },
        { op: 'beginStaging', table: datasets.name, columns: DATASET_COLUMNS },
        { op: 'beginStaging', table: resources.name, columns: RESOURCE_COLUMNS },
      ],
    };
    const listing = new CatalogListing(client, settings, `catalog of ${settings.portal}`, ctx.log);
    const skipped: Skipped = { inspire: 0, empty: 0 };
    let mirrored = 0;
    for await (const page of listing.pages()) {
      const kept = page.filter((dataset) => this.keeps(dataset, skipped));
      mirrored += kept.length;
      yield {
        type: 'changes',
        ops: [
          { op: 'stageRows', table: datasets.name, rows: kept.map((dataset) => datasetRow(dataset, settings.portal)) },
          { op: 'stageRows', table: resources.name, rows: kept.flatMap((dataset) => resourceRows(dataset, settings.portal)) },
        ],
      };
    }
    const before = completeListings(ctx.cursor);
    const number = listing.complete ? before + 1 : before;
    yield { type: 'changes', ops: this.applyOps(datasets.name, resources.name, listing.complete, number, now()) };
    if (!listing.complete) ctx.log.warn({ listed: listing.listed, via: listing.via }, 'ODS catalog listing incomplete (the catalog changed while it was read): absences not counted');
    yield {
      type: 'checkpoint',
      cursor: { completeListings: number },
      details: {
        portal: settings.portal,
        tables: [datasets.name, resources.name],
        lastListing: { listed: listing.listed, mirrored, complete: listing.complete, via: listing.via },
        skipped: { inspire: skipped.inspire, noData: skipped.empty },
      },
    };
  }

  /**
   * After a complete listing, stored datasets it missed are marked missing (from this listing on,
   * unless they already were), and those missing for `goneAfter` complete listings become gone;
   * resources follow the listed datasets. After an incomplete one, nothing unlisted is touched.
   */
  private applyOps(datasets: string, resources: string, complete: boolean, number: number, now: Date): ChangeOp[] {
    if (!complete) {
      return [
        { op: 'applyStaged', table: datasets, staged: 'write', unstaged: { action: 'keep' } },
        { op: 'applyStaged', table: resources, staged: 'write', unstaged: { action: 'keep' } },
      ];
    }
    return [
      {
        op: 'applyStaged',
        table: datasets,
        staged: 'write',
        unstaged: { action: 'set', set: { missing_since: number }, where: [{ column: 'missing_since', op: 'is null' }] },
      },
      { op: 'applyStaged', table: resources, staged: 'write', unstaged: { action: 'delete' } },
      {
        op: 'updateWhere',
        table: datasets,
        set: { state: 'gone', gone_at: now.toISOString() },
        where: [
          { column: 'state', op: '=', value: 'present' },
          { column: 'missing_since', op: '<=', value: number - this.settings.goneAfter + 1 },
        ],
      },
    ];
  }

  private keeps(dataset: OdsDatasetObject, skipped: Skipped): boolean {
    if (!this.settings.includeInspire && hasInspireRecord(dataset)) {
      skipped.inspire += 1;
      return false;
    }
    if (!this.settings.includeEmpty && hasNoData(dataset)) {
      skipped.empty += 1;
      return false;
    }
    return true;
  }
}

function completeListings(cursor: JsonValue): number {
  const value = isRecord(cursor) ? cursor['completeListings'] : undefined;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}
