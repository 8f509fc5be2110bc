import type { Logger } from 'pino';
import { isRecord, type JsonValue } from '../../core/json.js';
import { LimitExceededError } from '../../core/limits.js';
import { readDatasetObject, type OdsDatasetObject } from './dataset-object.js';
import { errorText, type ExploreClient, type QueryValue } from './explore-client.js';
import { ExploreAnswerError } from './explore-errors.js';
import { jsonArrayItems } from './json-stream.js';

/** Datasets per catalog page, and how far paging may go (offset + limit, inclusive); past it the export lists the rest. */
export const PAGE = 100;
export const PAGING_WINDOW = 10_000;

export interface CatalogFilters {
  readonly where: string | undefined;
  readonly refine: readonly string[];
}

/**
 * One listing of a portal's catalog, ordered by dataset_id: in pages of 100 while `offset + limit`
 * stays within 10,000, or through the catalog export when the portal counts more. Every dataset
 * must have a uid. After the datasets have all been read, `complete` says whether the listing can
 * be trusted to name every dataset: it ended normally and saw as many distinct datasets as the
 * portal counted (pages shift when datasets come and go while they are read).
 */
export class CatalogListing {
  listed = 0;
  complete = false;
  via: 'pages' | 'export' = 'pages';
  private readonly uids = new Set<string>();

  constructor(
    private readonly client: ExploreClient,
    private readonly filters: CatalogFilters,
    private readonly subject: string,
    private readonly log: Logger,
  ) {}

  async *pages(): AsyncGenerator<OdsDatasetObject[]> {
    const query: Record<string, QueryValue> = {
      order_by: 'dataset_id',
      where: this.filters.where,
      refine: this.filters.refine.length > 0 ? this.filters.refine : undefined,
    };
    let firstTotal: number | undefined;
    let lastTotal: number;
    for (let offset = 0; ; offset += PAGE) {
      const answer = await this.client.json('/catalog/datasets', { limit: PAGE, offset, ...query }, this.subject);
      if (!isRecord(answer) || typeof answer['total_count'] !== 'number' || !Array.isArray(answer['results'])) {
        throw new ExploreAnswerError(`${this.subject}: a catalog page without total_count and results`);
      }
      lastTotal = answer['total_count'];
      firstTotal ??= lastTotal;
      if (offset === 0 && lastTotal > PAGING_WINDOW) {
        this.log.info({ datasets: lastTotal }, 'ODS catalog larger than the paging window: listing it through the catalog export');
        yield* this.exported(query);
        return;
      }
      const results = answer['results'] as JsonValue[];
      yield results.map((value) => this.read(value));
      if (results.length === 0 || offset + PAGE >= lastTotal || offset + 2 * PAGE > PAGING_WINDOW) break;
    }
    this.complete = firstTotal === lastTotal && this.uids.size === lastTotal;
  }

  private async *exported(query: Record<string, QueryValue>): AsyncGenerator<OdsDatasetObject[]> {
    this.via = 'export';
    const response = await this.client.stream('/catalog/exports/json', query, this.subject);
    let batch: OdsDatasetObject[] = [];
    const { lineBytes, recordsPerResponse } = this.client.limits;
    try {
      for await (const text of jsonArrayItems(response.body, lineBytes)) {
        if (this.listed >= recordsPerResponse) {
          throw new LimitExceededError('recordsPerResponse', recordsPerResponse, `${this.subject}: the catalog export (dataset ${this.listed + 1})`);
        }
        batch.push(this.read(JSON.parse(text) as JsonValue));
        if (batch.length >= PAGE) {
          yield batch;
          batch = [];
        }
      }
    } catch (error) {
      if (error instanceof ExploreAnswerError) throw error;
      if (error instanceof LimitExceededError) throw error.what.startsWith(this.subject) ? error : error.within(`${this.subject}: the catalog export: `);
      throw new ExploreAnswerError(`${this.subject}: the catalog export broke after ${this.listed} datasets: ${errorText(error)}`, { cause: error });
    } finally {
      response.body.destroy();
    }
    yield batch;
    this.complete = true;
  }

  private read(value: JsonValue): OdsDatasetObject {
    const dataset = readDatasetObject(value, this.subject);
    if (dataset.datasetUid === undefined) throw new ExploreAnswerError(`${this.subject}: dataset ${dataset.datasetId} has no dataset_uid, by which the catalog is keyed`);
    this.uids.add(dataset.datasetUid);
    this.listed += 1;
    return dataset;
  }
}
