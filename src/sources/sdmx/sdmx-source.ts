import { DateTime } from 'luxon';
import type { Logger } from 'pino';
import { DEFAULT_LIMITS, type SourceLimits } from '../../core/limits.js';
import type { ChangeOp } from '../../core/ops.js';
import type { RecordView } from '../../core/records.js';
import { ActionRequiredError, type ReadContext, type SourceEvent, type StreamSource } from '../../core/source.js';
import type { TableSpec } from '../../core/tables.js';
import type { HttpClient, HttpResponse } from '../../http/client.js';
import { HttpBodyError, HttpTimeoutError } from '../../http/errors.js';
import { SdmxActionMapper } from './apply-actions.js';
import { SdmxMetadataMapper } from './apply-metadata.js';
import { openSdmxCsv, type SdmxCsvHeader } from './csv-reader.js';
import { derivePrefix, planLayout, type DataflowLayout } from './layout.js';
import { cursorFromJson, cursorToJson, type SdmxCursor } from './sdmx-cursor.js';
import { fetchStructure, type FetchedStructure, type StructureFormat } from './structure-fetch.js';
import {
  componentIds,
  describeStructureChange,
  formatArtefact,
  structureSignature,
  type ArtefactRef,
  type DataStructure,
  type StructureSignature,
} from './structure.js';

export type SdmxStreamMode = 'data' | 'metadata';

export interface SdmxSourceOptions {
  readonly id: string;
  readonly jobId: string;
  readonly mode: SdmxStreamMode;
  /** The NSI `rest` root. */
  readonly endpoint: string;
  readonly api: 'v1' | 'v2';
  readonly dataflow: ArtefactRef;
  readonly prefix?: string | undefined;
  /** A key filter as the API writes it (v1 `A.B.`, v2 `A.B.*`); default: everything. */
  readonly key?: string | undefined;
  readonly overlapMs: number;
  readonly structureFormat: StructureFormat;
  /**
   * Rows per `changes` event (default 1000). Rows in flight when V8 collects young objects get
   * promoted and wait for a full collection: 5000 cost a full load of 1M rows ~25 MB more peak
   * RSS than 1000, for no gain in speed (bench/sdmx-full-load-shipped.mjs).
   */
  readonly batchSize?: number;
  /** Bounds on one answer (docs/limits.md); default SDMX_LIMITS. */
  readonly limits?: SourceLimits;
  /** The local clock; tests move it. */
  readonly now?: () => Date;
}

/** SDMX's defaults: structure messages with their codelists can be large. */
export const SDMX_LIMITS: SourceLimits = Object.freeze({ ...DEFAULT_LIMITS, documentBytes: 256 * 2 ** 20 });

const DATA_ACCEPT = 'application/vnd.sdmx.data+csv;version=2.0.0';
const NO_RECORDS = /NoRecordsFound|NoResultsFound|No\s+Records\s+Found|No\s+Results\s+Found/i;

/**
 * One SDMX stream: a dataflow's data or its referential metadata (docs/sdmx.md). Each run fetches the
 * structure (which also reads the server's clock), notes the watermark, asks for what changed since
 * the cursor (everything on a full load) as SDMX-CSV 2.0, and turns the rows into operations in file
 * order. The whole response is one transaction, committed with the new cursor.
 */
export class SdmxSource implements StreamSource {
  readonly id: string;
  readonly jobId: string;
  readonly kind = 'sdmx';
  private readonly label: string;
  private readonly endpoint: string;
  private readonly limits: SourceLimits;
  /**
   * A dataflow's records are its observations as the view `{p}` shows them (dimensions, measures,
   * attributes of every level), keyed by the dimensions; its referential metadata publishes none.
   */
  readonly records: RecordView | undefined;

  constructor(private readonly options: SdmxSourceOptions) {
    this.id = options.id;
    this.jobId = options.jobId;
    this.records = options.mode === 'data' ? { relation: options.prefix ?? derivePrefix(options.dataflow.id) } : undefined;
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.label = `dataflow ${formatArtefact(options.dataflow)}${options.mode === 'metadata' ? ' (referential metadata)' : ''}`;
    this.limits = options.limits ?? SDMX_LIMITS;
  }

  async *read(ctx: ReadContext): AsyncGenerator<SourceEvent> {
    const { http, signal, log } = ctx;
    const cursor = cursorFromJson(ctx.cursor, this.id);
    const now = this.options.now ?? (() => new Date());

    let fetched = await this.structure(http, signal);
    let layout = this.layoutOf(fetched.structure);
    let signature = this.signatureOf(fetched.structure);
    if (cursor !== null) this.checkUnchanged(cursor, layout.prefix, signature);

    // Noted before the data request: whatever changes while it runs is read again next time.
    const local = now();
    const server = fetched.serverDate ?? local;
    const watermark = new Date(Math.min(server.getTime(), local.getTime()) - this.options.overlapMs);
    const next = (): SdmxCursor => ({ updatedAfter: formatUpdatedAfter(watermark), prefix: layout.prefix, structure: signature });

    const url = this.dataUrl(cursor?.updatedAfter);
    log.debug({ url, full: cursor === null }, 'SDMX data request');
    const response = await http.request(url, {
      headers: { Accept: DATA_ACCEPT, 'Accept-Language': 'en' },
      signal,
      acceptStatus: [404, 304],
      limits: this.limits,
    });

    // However the run ends (a refused header, a structure that cannot be read again, the store
    // refusing a batch), the answer's connection is given back: a body left unread stays in flight
    // for good and the client can never close.
    try {
      if (!(await this.hasData(response))) {
        yield { type: 'changes', ops: this.tableOps(layout, cursor === null) };
        yield { type: 'checkpoint', cursor: cursorToJson(next()), details: { rows: 0, lastResponse: `no changes (HTTP ${response.status})` } };
        return;
      }

      const known = this.knownComponents(fetched.structure);
      const message = await openSdmxCsv(response.body, {
        label: this.label,
        knownComponents: known,
        batchSize: this.options.batchSize ?? 1000,
        endVerified: response.endVerified,
        limits: this.limits,
        signal,
      }).catch((error: unknown) => {
        throw this.brokeOff(error, 0, undefined);
      });
      if (message.header.delimiter !== ',') {
        // A localised answer (NSI 8.13+ uses the culture's separators) despite Accept-Language: en:
        // its decimal mark may be "," too, and values are kept as written, so whoever reads them must know.
        log.warn(
          { delimiter: message.header.delimiter },
          `${this.label}: the CSV is separated by ${JSON.stringify(message.header.delimiter)}, not ","; its decimal mark may be "," too, values are stored as written`,
        );
      }
      const strangers = message.header.unknownColumns.filter((id) => !componentIds(fetched.structure).has(id));
      if (strangers.length > 0) {
        // A column the structure does not know: maybe the DSD changed after we read it. Look once more.
        const again = await this.structure(http, signal);
        const againSignature = this.signatureOf(again.structure);
        const changes = describeStructureChange(signature, againSignature);
        if (changes.length > 0) {
          throw new ActionRequiredError(
            `${this.label}: the data structure changed while syncing (${changes.join('; ')}); run \`dataspace-sync reset ${this.id}\` to rebuild the tables`,
          );
        }
        log.warn({ columns: strangers }, `${this.label}: the CSV has columns the data structure does not define; they are ignored`);
        fetched = again;
        layout = this.layoutOf(again.structure);
        signature = againSignature;
      }

      const mapper = this.mapperOf(fetched.structure, layout, message.header, log);
      let rows = 0;
      let lastLine: number | undefined;
      let first = true;
      try {
        for await (const batch of message.batches) {
          rows += batch.length;
          lastLine = batch.at(-1)?.line ?? lastLine;
          const ops = mapper.map(batch);
          yield { type: 'changes', ops: first ? [...this.tableOps(layout, cursor === null), ...ops] : ops };
          first = false;
        }
      } catch (error) {
        throw this.brokeOff(error, rows, lastLine);
      }
      if (first) yield { type: 'changes', ops: this.tableOps(layout, cursor === null) };
      if (message.stats.trailingEmptyCells > 0) {
        log.info({ trailingEmptyCells: message.stats.trailingEmptyCells }, `${this.label}: tolerated empty cells past the last column`);
      }
      yield { type: 'checkpoint', cursor: cursorToJson(next()), details: { rows, lastResponse: `${rows} rows (HTTP ${response.status})` } };
    } finally {
      response.body.destroy();
    }
  }

  /**
   * A body that broke in transit (cut, reset, idle timeout) says only which URL failed: add how far
   * the answer got, so the operator can tell a server dying at row 3 from one dying at row 3 million.
   * The cause keeps the transport detail. Errors of the CSV and of its rows name their line already.
   */
  private brokeOff(error: unknown, rows: number, lastLine: number | undefined): unknown {
    if (!(error instanceof HttpBodyError || error instanceof HttpTimeoutError)) return error;
    const where = lastLine === undefined ? 'before its first row' : `after the row on line ${lastLine}`;
    return new Error(`${this.label}: the answer broke off ${where} (${rows} rows read)`, { cause: error });
  }

  private structure(http: HttpClient, signal: AbortSignal): Promise<FetchedStructure> {
    return fetchStructure(this.options.dataflow, {
      http,
      signal,
      endpoint: this.endpoint,
      format: this.options.structureFormat,
      withMetadata: this.options.mode === 'metadata',
      limits: this.limits,
    });
  }

  private layoutOf(structure: DataStructure): DataflowLayout {
    return planLayout(structure, { prefix: this.options.prefix, metadata: this.options.mode === 'metadata' });
  }

  /** Only what this stream's tables depend on: the data stream ignores the MSD and the other way round. */
  private signatureOf(structure: DataStructure): StructureSignature {
    const full = structureSignature(structure);
    return this.options.mode === 'data' ? { ...full, metadata: [] } : { ...full, measures: [], attributes: [] };
  }

  private checkUnchanged(cursor: SdmxCursor, prefix: string, signature: StructureSignature): void {
    const reset = `run \`dataspace-sync reset ${this.id}\` to rebuild the tables`;
    if (cursor.prefix !== prefix) {
      throw new ActionRequiredError(`${this.label}: the table prefix was ${cursor.prefix} and is now ${prefix}; ${reset}`);
    }
    const changes = describeStructureChange(cursor.structure, signature);
    if (changes.length > 0) {
      throw new ActionRequiredError(`${this.label}: the data structure changed since the last sync (${changes.join('; ')}); ${reset}`);
    }
  }

  private knownComponents(structure: DataStructure): Set<string> {
    const ids = new Set(structure.dimensions);
    if (this.options.mode === 'metadata') for (const id of structure.metadataAttributes) ids.add(id);
    else for (const id of [...structure.measures, ...structure.attributes.map((attribute) => attribute.id)]) ids.add(id);
    return ids;
  }

  private mapperOf(structure: DataStructure, layout: DataflowLayout, header: SdmxCsvHeader, log: Logger): { map: SdmxActionMapper['map'] } {
    const options = {
      label: this.label,
      onDataflowDelete: (line: number) =>
        log.warn({ line }, `${this.label}: line ${line} is a D row without any dimension or value: it deletes the whole ${this.options.mode === 'metadata' ? 'referential metadata' : 'content'} of the dataflow`),
    };
    const mapper = this.options.mode === 'metadata' ? new SdmxMetadataMapper(structure, layout, header, options) : new SdmxActionMapper(structure, layout, header, options);
    return { map: (rows) => mapper.map(rows) };
  }

  /** A full load replaces the tables (swapped in at commit); an incremental run only checks they exist as expected. */
  private tableOps(layout: DataflowLayout, full: boolean): ChangeOp[] {
    const specs: TableSpec[] =
      this.options.mode === 'metadata'
        ? [layout.metadata?.spec].filter((spec) => spec !== undefined)
        : [layout.observations.spec, ...layout.attributeTables.map((table) => table.spec), ...(layout.datasetAttributes ? [layout.datasetAttributes.spec] : [])];
    const ops: ChangeOp[] = specs.map((spec) => (full ? { op: 'replaceTable', spec } : { op: 'ensureTable', spec }));
    if (this.options.mode === 'data') ops.push({ op: 'ensureView', spec: layout.view });
    return ops;
  }

  private dataUrl(updatedAfter: string | undefined): string {
    const { agency, id, version } = this.options.dataflow;
    const enc = encodeURIComponent;
    const query: string[] = [];
    let path: string;
    if (this.options.mode === 'metadata' || this.options.api === 'v2') {
      const key = this.options.key === undefined ? '*' : v2Key(this.options.key);
      path = `v2/data/dataflow/${enc(agency)}/${enc(id)}/${enc(version)}/${key}`;
      if (this.options.mode === 'metadata') query.push('attributes=msd', 'measures=none');
    } else {
      path = `data/${enc(agency)},${enc(id)},${enc(version)}/${this.options.key ?? 'all'}`;
    }
    // encodeURIComponent sends `+` as %2B and `:` as %3A: an NSI decodes a bare `+` as a space.
    if (updatedAfter !== undefined) query.push(`updatedAfter=${encodeURIComponent(updatedAfter)}`);
    return `${this.endpoint}/${path}${query.length > 0 ? `?${query.join('&')}` : ''}`;
  }

  /** False for the answers that mean "nothing changed": 204, 304, 404 NoRecordsFound. */
  private async hasData(response: HttpResponse): Promise<boolean> {
    if (response.status === 204 || response.status === 304) {
      await response.dump();
      return false;
    }
    if (response.status === 404) {
      const text = (await response.text()).slice(0, 2000);
      if (NO_RECORDS.test(text)) return false;
      throw new Error(`${this.label}: HTTP 404 from ${response.url}: ${text.slice(0, 300)}`);
    }
    const type = (response.headers['content-type'] ?? '').toLowerCase();
    if (type.includes('html') || type.includes('json') || (type.includes('xml') && !type.includes('csv'))) {
      const snippet = (await response.text().catch(() => '')).slice(0, 200);
      throw new Error(`${this.label}: expected SDMX-CSV from ${response.url}, got ${type} (HTTP ${response.status}): ${JSON.stringify(snippet)}`);
    }
    return true;
  }
}

/** ISO 8601 to the second with an explicit offset (`+01:00`, never `Z`), in the local time zone. */
export function formatUpdatedAfter(instant: Date): string {
  return DateTime.fromJSDate(instant).toFormat("yyyy-MM-dd'T'HH:mm:ssZZ");
}

/** v1 keys leave a wildcard position empty (`A..B`); v2 writes `*`. */
function v2Key(key: string): string {
  return key
    .split('.')
    .map((part) => (part === '' ? '*' : part))
    .join('.');
}
