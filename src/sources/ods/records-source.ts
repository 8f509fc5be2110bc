import type { JsonValue } from '../../core/json.js';
import { LimitExceededError } from '../../core/limits.js';
import type { ChangeOp } from '../../core/ops.js';
import type { RecordView } from '../../core/records.js';
import { ActionRequiredError, RetryLaterError, StreamGoneError, type ReadContext, type SourceEvent, type StreamSource } from '../../core/source.js';
import type { SqlValue } from '../../core/tables.js';
import { defaultMeta, readDatasetObject, type OdsDatasetObject } from './dataset-object.js';
import { errorText, exploreClientFor, type ExploreClient, type PortalSettings } from './explore-client.js';
import { ExploreAnswerError, ExploreNotFoundError, ExploreRefusedError } from './explore-errors.js';
import { jsonLines } from './json-stream.js';
import { planRecordTable, RECORD_ID, RECORD_TIMESTAMP, recordRow, schemaChanges, type RecordTable } from './record-table.js';
import { readRecordsCursor, recordsCursorJson, sameInstant, type RecordsCursor, type TechnicalFields } from './records-cursor.js';

export interface RecordsSettings extends PortalSettings {
  readonly id: string;
  readonly jobId: string;
  readonly datasetId: string;
  readonly table: string;
  /** Fields whose values identify a record across edits; default: the record id. */
  readonly uniqueKey: readonly string[] | undefined;
  readonly mode: 'snapshot' | 'incremental';
  /** Incremental mode: re-read records this much older than the newest one mirrored. */
  readonly overlapMs: number;
  /** Incremental mode: how often to reconcile ids (which removes records deleted at the portal). */
  readonly reconcileEveryMs: number;
}

/** Rows per change event: small enough to stay flat in memory, large enough to write in bulk. */
const BATCH = 1000;
/** Exports started again when the dataset is reprocessed while one is read, before giving up for now. */
const EXPORT_ATTEMPTS = 3;
const REPROCESSING_WAIT_MS = 60_000;

/** The gate of a snapshot: what moves when the portal reprocesses the dataset. */
interface Gate {
  readonly dataProcessed: string | null;
  readonly recordsCount: number | null;
}

/** What one export brought: its records, and the newest record_timestamp among them. */
interface ExportResult {
  count: number;
  newest: string | null;
}

/**
 * The `ods-records` stream of one dataset. ODS has no change feed and no delete markers, so:
 *
 * - Snapshot mode (file-sourced datasets): a run first looks the dataset up; when neither
 *   `data_processed`, `records_count` nor the fields moved since the last mirrored snapshot, it
 *   makes no export request. Otherwise it streams `/exports/jsonl` (with `recordid` selected;
 *   `record_timestamp` is left empty, see exportRows) to the store as a snapshot (beginSnapshot,
 *   snapshotRows, applySnapshot: only rows that differ are written), looks the dataset up again
 *   (a snapshot taken while the portal reprocessed the dataset is discarded and the export
 *   started again), and has the store delete the records the export lacked, in the transaction
 *   that writes the new cursor.
 * - Incremental mode (realtime, push-fed datasets): records whose record_timestamp is at or after
 *   the newest one mirrored, minus an overlap, are upserted; every `reconcileEvery`, the ids are
 *   exported alone and records the portal no longer has are deleted. A reprocessed dataset (its
 *   data_processed moved) is mirrored in full, as in snapshot mode.
 *
 * The first run (and the first after `reset`) loads a fresh table. A changed schema stops the
 * stream until it is reset; a 404 NotFoundResource marks it gone.
 */
export class OdsRecordsSource implements StreamSource {
  readonly kind = 'ods-records';
  readonly id: string;
  readonly jobId: string;
  private readonly subject: string;
  /** The dataset's records as mirrored, keyed as the table is, without the source portal's own record id and timestamp. */
  readonly records: RecordView;

  constructor(private readonly settings: RecordsSettings) {
    this.id = settings.id;
    this.jobId = settings.jobId;
    this.records = { relation: settings.table, omit: [RECORD_ID, RECORD_TIMESTAMP] };
    this.subject = `dataset ${settings.datasetId}`;
  }

  async *read(ctx: ReadContext): AsyncIterable<SourceEvent> {
    const { settings } = this;
    const now = settings.now ?? (() => new Date());
    const client = exploreClientFor(settings, ctx);
    const cursor = readRecordsCursor(ctx.cursor);
    const dataset = await this.lookup(client);
    const table = planRecordTable(settings.table, dataset.fields, settings.uniqueKey, this.subject);
    if (cursor !== undefined) this.checkSchema(cursor, table);
    const gate = gateOf(dataset);
    const fresh = cursor === undefined || cursor.mode !== settings.mode;
    const technical = fresh ? await this.probe(client, table) : cursor.technical;

    if (settings.mode === 'snapshot' || fresh || !sameInstant(cursor.dataProcessed, gate.dataProcessed)) {
      if (!fresh && sameGate(cursor, gate)) return;
      yield* this.snapshot(client, table, technical, gate, cursor, now);
      return;
    }
    yield* this.increment(client, table, technical, gate, cursor, now);
  }

  /** The dataset object; a 404 means the dataset is gone (deleted, unpublished, renamed or hidden from this key). */
  private async lookup(client: ExploreClient): Promise<OdsDatasetObject> {
    let answer: unknown;
    try {
      answer = await client.json(`/catalog/datasets/${encodeURIComponent(this.settings.datasetId)}`, {}, this.subject);
    } catch (error) {
      if (error instanceof ExploreNotFoundError) throw new StreamGoneError(`${error.message}: deleted, unpublished, renamed or hidden from this API key`);
      throw error;
    }
    return readDatasetObject(answer as JsonValue, this.subject);
  }

  private checkSchema(cursor: RecordsCursor, table: RecordTable): void {
    const changes = schemaChanges(cursor.schema, table.fields);
    const keyChanged = cursor.key.length > 0 && cursor.key.join('\u0000') !== table.key.join('\u0000');
    if (changes.length === 0 && !keyChanged) return;
    const what = [...changes, ...(keyChanged ? [`key (${cursor.key.join(', ')}) -> (${table.key.join(', ')})`] : [])].join('; ');
    throw new ActionRequiredError(
      `${this.subject}: the fields changed since table ${table.spec.name} was built (${what}); reset the stream to rebuild the table from a full export`,
    );
  }

  /**
   * First contact: does the portal return `recordid` and `record_timestamp` when they are selected?
   * Without record ids the records can only be keyed by unique-key fields; without timestamps the
   * incremental mode cannot work. Both are refused with what to do.
   */
  private async probe(client: ExploreClient, table: RecordTable): Promise<TechnicalFields> {
    const path = `/catalog/datasets/${encodeURIComponent(this.settings.datasetId)}/records`;
    const found = { recordid: true, timestamp: true };
    for (const [field, name] of [['recordid', 'recordid'], ['timestamp', 'record_timestamp']] as const) {
      try {
        const answer = (await client.json(path, { limit: 1, select: name }, this.subject)) as { results?: unknown };
        const [row] = Array.isArray(answer.results) ? (answer.results as unknown[]) : [];
        found[field] = row === undefined || (typeof row === 'object' && row !== null && name in row);
      } catch (error) {
        if (!(error instanceof ExploreRefusedError) || error.status !== 400) throw error;
        found[field] = false;
      }
    }
    if (!found.recordid && table.key.includes(RECORD_ID)) {
      throw new ActionRequiredError(
        `${this.subject}: the portal does not return recordid, by which records are keyed; set "key" for this dataset to the fields that identify a record`,
      );
    }
    if (!found.timestamp && this.settings.mode === 'incremental') {
      throw new ActionRequiredError(`${this.subject}: the portal does not return record_timestamp, which the incremental mode reads from; use mode "snapshot"`);
    }
    return found;
  }

  /**
   * A full pass: the whole export into a fresh table (first load) or staged and applied as a
   * difference, started again if the dataset is reprocessed meanwhile.
   */
  private async *snapshot(
    client: ExploreClient,
    table: RecordTable,
    technical: TechnicalFields,
    gate: Gate,
    cursor: RecordsCursor | undefined,
    now: () => Date,
  ): AsyncGenerator<SourceEvent> {
    const first = cursor === undefined;
    // A realtime dataset takes pushes during the export: only a reprocessing discards the snapshot,
    // and the records pushed meanwhile come with the next incremental run.
    const strict = this.settings.mode === 'snapshot';
    const name = table.spec.name;
    // The store makes the table equal to the export: rows new or changed are written, the others
    // not, and the keys the export did not give are deleted when it is applied. A snapshot
    // discarded midway is begun again in the same transaction, which starts it over.
    const begin: ChangeOp[] = [first ? { op: 'replaceTable', spec: table.spec } : { op: 'ensureTable', spec: table.spec }, { op: 'beginSnapshot', table: name, columns: table.columns }];
    let current = gate;
    let result: ExportResult | undefined;
    for (let attempt = 1; result === undefined; attempt += 1) {
      yield { type: 'changes', ops: attempt === 1 ? begin : [begin[1] as ChangeOp] };
      const exported = { count: 0, newest: null };
      yield* this.exportRows(client, table, technical, {}, exported, (rows) => [{ op: 'snapshotRows', table: name, rows }]);
      const after = await this.lookup(client);
      if (schemaChanges(table.fields, planRecordTable(name, after.fields, this.settings.uniqueKey, this.subject).fields).length > 0) {
        throw new ExploreAnswerError(`${this.subject}: the fields changed while the export was read; the snapshot was discarded`);
      }
      const moved = gateOf(after);
      if (strict ? sameGate(current, moved) : sameInstant(current.dataProcessed, moved.dataProcessed)) {
        result = exported;
      } else if (attempt >= EXPORT_ATTEMPTS) {
        throw new RetryLaterError(`${this.subject}: reprocessed during each of ${attempt} exports; the snapshots were discarded, trying again later`, REPROCESSING_WAIT_MS);
      } else {
        current = moved;
      }
    }
    if (strict && current.recordsCount !== null && result.count !== current.recordsCount) {
      throw new ExploreAnswerError(`${this.subject}: the export ended after ${result.count} records, but the dataset has ${current.recordsCount}; was it cut short?`);
    }
    yield { type: 'changes', ops: [{ op: 'applySnapshot', table: name }] };
    yield this.checkpoint(table, technical, current, result.newest, now().toISOString());
  }

  /** Incremental mode: records since the newest mirrored (minus the overlap), and, when due, a reconciliation of ids. */
  private async *increment(
    client: ExploreClient,
    table: RecordTable,
    technical: TechnicalFields,
    gate: Gate,
    cursor: RecordsCursor,
    now: () => Date,
  ): AsyncGenerator<SourceEvent> {
    const name = table.spec.name;
    yield { type: 'changes', ops: [{ op: 'ensureTable', spec: table.spec }] };
    const since = cursor.since === null ? undefined : new Date(Date.parse(cursor.since) - this.settings.overlapMs).toISOString();
    const exported: ExportResult = { count: 0, newest: cursor.since };
    const filter = since === undefined ? {} : { where: `record_timestamp >= date'${since}'` };
    yield* this.exportRows(client, table, technical, filter, exported, (rows) => [{ op: 'upsert', table: name, columns: table.columns, rows, onlyChanged: true }]);
    let reconciledAt = cursor.reconciledAt;
    const due = reconciledAt === null || now().getTime() - Date.parse(reconciledAt) >= this.settings.reconcileEveryMs;
    if (due) {
      reconciledAt = now().toISOString();
      yield { type: 'changes', ops: [{ op: 'beginStaging', table: name, columns: table.key }] };
      yield* this.exportKeys(client, table);
      yield { type: 'changes', ops: [{ op: 'applyStaged', table: name, staged: 'ignore', unstaged: { action: 'delete' } }] };
    }
    yield this.checkpoint(table, technical, gate, exported.newest, reconciledAt ?? now().toISOString());
  }

  private checkpoint(table: RecordTable, technical: TechnicalFields, gate: Gate, newest: string | null, reconciledAt: string): SourceEvent {
    const cursor: RecordsCursor = {
      mode: this.settings.mode,
      ...gate,
      schema: table.fields,
      key: table.key,
      technical,
      since: newest,
      reconciledAt,
    };
    return { type: 'checkpoint', cursor: recordsCursorJson(cursor), details: { portal: this.settings.portal, dataset: this.settings.datasetId, table: table.spec.name } };
  }

  /**
   * Streams `/exports/jsonl` line by line into change events of BATCH rows, never holding the
   * export: the fields by name (so the columns match the schema just read), plus the technical
   * fields the portal returns.
   */
  private async *exportRows(
    client: ExploreClient,
    table: RecordTable,
    technical: TechnicalFields,
    filter: { readonly where?: string },
    result: ExportResult,
    ops: (rows: SqlValue[][]) => ChangeOp[],
  ): AsyncGenerator<SourceEvent> {
    // Only the incremental mode keeps record_timestamp: a file-sourced dataset stamps every record
    // with its processing time, so in snapshot mode it would rewrite every row at each reprocessing.
    const timestamps = this.settings.mode === 'incremental' && technical.timestamp;
    const select = [...(technical.recordid ? ['recordid'] : []), ...(timestamps ? ['record_timestamp'] : []), ...table.fields.map((field) => quoteField(field.name))];
    const timestampAt = table.columns.indexOf('record_timestamp');
    let line = result.count;
    // One closure for the whole export: the message is only built for a record that is refused.
    const where = () => `${this.subject}: export line ${line}`;
    let rows: SqlValue[][] = [];
    for await (const record of this.exportLines(client, { select: select.join(','), ...filter })) {
      line += 1;
      const row = recordRow(table, record, where);
      result.count = line;
      const timestamp = row[timestampAt];
      if (typeof timestamp === 'string' && (result.newest === null || Date.parse(timestamp) > Date.parse(result.newest))) result.newest = timestamp;
      rows.push(row);
      if (rows.length >= BATCH) {
        yield { type: 'changes', ops: ops(rows) };
        rows = [];
      }
    }
    if (rows.length > 0) yield { type: 'changes', ops: ops(rows) };
  }

  /** The key columns of every record, staged for a reconciliation. */
  private async *exportKeys(client: ExploreClient, table: RecordTable): AsyncGenerator<SourceEvent> {
    const name = table.spec.name;
    let rows: SqlValue[][] = [];
    let line = 0;
    for await (const record of this.exportLines(client, { select: table.key.map((column) => (column === RECORD_ID ? 'recordid' : quoteField(column))).join(',') })) {
      line += 1;
      const row = table.key.map((column) => record[column === RECORD_ID ? 'recordid' : column]);
      if (row.some((value) => value === undefined || value === null || typeof value === 'object')) {
        throw new ExploreAnswerError(`${this.subject}: id export line ${line} lacks its key (${table.key.join(', ')})`);
      }
      rows.push(row as SqlValue[]);
      if (rows.length >= BATCH) {
        yield { type: 'changes', ops: [{ op: 'stageRows', table: name, rows }] };
        rows = [];
      }
    }
    if (rows.length > 0) yield { type: 'changes', ops: [{ op: 'stageRows', table: name, rows }] };
  }

  /** The records of a JSON Lines export, parsed one at a time; a broken body or line names the dataset. */
  private async *exportLines(client: ExploreClient, query: { readonly select: string; readonly where?: string }): AsyncGenerator<Record<string, JsonValue>> {
    const path = `/catalog/datasets/${encodeURIComponent(this.settings.datasetId)}/exports/jsonl`;
    const response = await client.stream(path, { ...query, timezone: 'UTC' }, this.subject);
    let line = 0;
    const { lineBytes, recordsPerResponse } = client.limits;
    try {
      for await (const text of jsonLines(response.body, lineBytes)) {
        line += 1;
        if (line > recordsPerResponse) throw new LimitExceededError('recordsPerResponse', recordsPerResponse, `${this.subject}: the export (record ${line})`);
        let record: unknown;
        try {
          record = JSON.parse(text);
        } catch (error) {
          throw new ExploreAnswerError(`${this.subject}: export line ${line} is not JSON: ${errorText(error)}`);
        }
        if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new ExploreAnswerError(`${this.subject}: export line ${line} is not a JSON object`);
        yield record as Record<string, JsonValue>;
      }
    } catch (error) {
      if (error instanceof ExploreAnswerError) throw error;
      if (error instanceof LimitExceededError) {
        if (error.key === 'recordsPerResponse' || error.what.startsWith(this.subject)) throw error;
        throw error.within(error.key === 'lineBytes' ? `${this.subject}: export ` : `${this.subject}: `);
      }
      throw new ExploreAnswerError(`${this.subject}: the export broke after ${line} records: ${errorText(error)}`, { cause: error });
    } finally {
      response.body.destroy();
    }
  }
}

function gateOf(dataset: OdsDatasetObject): Gate {
  const processed = defaultMeta(dataset, 'data_processed');
  const count = defaultMeta(dataset, 'records_count');
  return {
    dataProcessed: typeof processed === 'string' && processed !== '' ? processed : null,
    recordsCount: typeof count === 'number' ? count : null,
  };
}

function sameGate(a: Gate, b: Gate): boolean {
  return sameInstant(a.dataProcessed, b.dataProcessed) && a.recordsCount === b.recordsCount;
}

/** A field name in ODSQL: back-quoted, since names made only of digits or equal to a keyword must be. */
function quoteField(name: string): string {
  return `\`${name.replace(/`/g, '\\`')}\``;
}
