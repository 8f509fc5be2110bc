import { createHash } from 'node:crypto';
import type { JsonValue } from '../../core/json.js';

/** The field types a portal's datasets use (the Explore API's `fields[].type`). */
export type OdsFieldType = 'text' | 'int' | 'double' | 'boolean' | 'date' | 'datetime' | 'geo_point_2d' | 'geo_shape' | 'file' | 'json_blob';

export interface OdsField {
  readonly name: string;
  readonly type: OdsFieldType;
  readonly label?: string;
  readonly description?: string | null;
  /** E.g. `{"facet": true}`; a field with an `id` annotation is a "Unique ID" field. */
  readonly annotations?: Readonly<Record<string, JsonValue>>;
}

/** A record's values by field name. */
export type RecordValues = Readonly<Record<string, JsonValue>>;

/** An attachment or alternative export, as the dataset object lists it (`url` is `odsfile://...` on real portals). */
export interface OdsFile {
  readonly id: string;
  readonly title: string;
  readonly mimetype: string;
  readonly url: string;
  readonly description?: string;
}

export interface DatasetDefinition {
  readonly id: string;
  /** Default: a new `da_...` identifier. */
  readonly uid?: string;
  readonly fields: readonly OdsField[];
  readonly records?: readonly RecordValues[];
  /**
   * Fed by the Push API: each record keeps its arrival time as record_timestamp, and pushes do not
   * reprocess the dataset (data_processed stays). Otherwise a file-sourced dataset: every change
   * reprocesses it, giving all its records the processing time.
   */
  readonly realtime?: boolean;
  /** Metadata templates (`default`, `custom`, `dcat`, `inspire`...); `default` is completed by the portal. */
  readonly metas?: Readonly<Record<string, Readonly<Record<string, JsonValue>>>>;
  /** Default: `analyze`, plus `geo` with a geo field and `timeserie` with a date field. */
  readonly features?: readonly string[];
  readonly attachments?: readonly OdsFile[];
  readonly alternativeExports?: readonly OdsFile[];
}

export interface StoredRecord {
  /** The record id: a SHA-1 of its values, or of its Unique ID fields' values when it has some. */
  readonly id: string;
  /** record_timestamp: the processing time (file datasets) or the arrival time (realtime ones). */
  readonly timestamp: string;
  readonly values: RecordValues;
}

/** Changes to a dataset's records, applied together (one reprocessing for a file dataset). */
export interface RecordChanges {
  readonly insert?: readonly RecordValues[];
  /** Replaces the values of these records (a new id unless the dataset has Unique ID fields). */
  readonly update?: readonly { readonly id: string; readonly values: RecordValues }[];
  readonly delete?: readonly string[];
}

export class HostedDataset {
  id: string;
  fields: readonly OdsField[];
  metas: Record<string, Record<string, JsonValue>>;
  features: readonly string[] | undefined;
  attachments: readonly OdsFile[];
  alternativeExports: readonly OdsFile[];
  readonly records = new Map<string, StoredRecord>();
  dataProcessedMs: number | undefined;
  metadataProcessedMs: number;
  /** Served by the Explore API and open to pushes; the Automation API unpublishes and publishes it. */
  published = true;

  constructor(
    readonly uid: string,
    definition: DatasetDefinition,
    readonly realtime: boolean,
    nowMs: number,
  ) {
    this.id = definition.id;
    this.fields = definition.fields;
    this.metas = Object.fromEntries(Object.entries(definition.metas ?? {}).map(([name, template]) => [name, { ...template }]));
    this.features = definition.features;
    this.attachments = definition.attachments ?? [];
    this.alternativeExports = definition.alternativeExports ?? [];
    this.metadataProcessedMs = nowMs;
  }

  /** The values a record keeps: one per field, null where absent, keys outside the schema dropped. */
  normalise(values: RecordValues): RecordValues {
    // Own values only: a field named like an Object.prototype member ("toString") must not read the prototype's.
    return Object.fromEntries(this.fields.map((field) => [field.name, Object.hasOwn(values, field.name) ? (values[field.name] ?? null) : null]));
  }

  /** Which fields make a record's id: the Unique ID ones (`id` annotation), or all of them. */
  idFields(): string[] {
    const idFields = this.fields.filter((field) => field.annotations?.['id'] !== undefined);
    return (idFields.length > 0 ? idFields : this.fields).map((field) => field.name);
  }

  recordId(values: RecordValues): string {
    const keyed = this.idFields().sort();
    const hash = createHash('sha1');
    for (const name of keyed) hash.update(`${JSON.stringify(Object.hasOwn(values, name) ? (values[name] ?? null) : null)}\u0000`);
    return hash.digest('hex');
  }
}

/** `2026-08-16T13:47:06+00:00`: the seconds-precision form portals give data_processed. */
export function formatSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+00:00`;
}

/** `2026-08-16T13:47:06.995000+00:00`: the microsecond form of metadata_processed and record timestamps. */
export function formatMicros(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000+00:00`;
}

/**
 * The datasets of a simulated portal and the ways a test changes them. Every change is immediate
 * and visible to the next request; an export already streaming keeps the content it started with.
 */
export class PortalData {
  private readonly byUid = new Map<string, HostedDataset>();
  private uidCounter = 0;

  constructor(readonly now: () => Date) {}

  datasets(): HostedDataset[] {
    return [...this.byUid.values()];
  }

  find(id: string): HostedDataset | undefined {
    for (const dataset of this.byUid.values()) if (dataset.id === id) return dataset;
    return undefined;
  }

  get(id: string): HostedDataset {
    const dataset = this.find(id);
    if (dataset === undefined) throw new Error(`no dataset ${id} on the simulated portal`);
    return dataset;
  }

  addDataset(definition: DatasetDefinition): HostedDataset {
    if (this.find(definition.id) !== undefined) throw new Error(`dataset ${definition.id} exists already`);
    let uid = definition.uid;
    while (uid === undefined || this.byUid.has(uid)) {
      this.uidCounter += 1;
      uid = `da_${this.uidCounter.toString(36).padStart(6, '0')}`;
    }
    const dataset = new HostedDataset(uid, definition, definition.realtime === true, this.nowMs());
    this.byUid.set(uid, dataset);
    // A realtime dataset is processed once when published; pushes then add to it without reprocessing.
    if (dataset.realtime) dataset.dataProcessedMs = this.nextProcessing(dataset);
    if (definition.records !== undefined && definition.records.length > 0) this.changeRecords(definition.id, { insert: definition.records });
    return dataset;
  }

  /** A new dataset_id for the same dataset (same uid), as a portal allows on an unpublished dataset. */
  renameDataset(id: string, newId: string): void {
    if (this.find(newId) !== undefined) throw new Error(`dataset ${newId} exists already`);
    const dataset = this.get(id);
    dataset.id = newId;
    dataset.metadataProcessedMs = this.nowMs();
  }

  removeDataset(id: string): void {
    this.byUid.delete(this.get(id).uid);
  }

  /**
   * Inserts, updates and deletes records. A file dataset is then reprocessed: data_processed moves
   * and every record takes the processing time. A realtime dataset gets them as pushes: each
   * changed record takes the arrival time and data_processed stays.
   */
  changeRecords(id: string, changes: RecordChanges): void {
    const dataset = this.get(id);
    const time = dataset.realtime ? this.nowMs() : this.nextProcessing(dataset);
    const timestamp = formatMicros(time);
    for (const recordId of changes.delete ?? []) dataset.records.delete(recordId);
    for (const { id: recordId, values } of changes.update ?? []) {
      if (!dataset.records.delete(recordId)) throw new Error(`dataset ${id} has no record ${recordId}`);
      this.put(dataset, values, timestamp);
    }
    for (const values of changes.insert ?? []) this.put(dataset, values, timestamp);
    if (!dataset.realtime) this.reprocess(id, time);
  }

  /** Reprocesses a dataset without changing its content: data_processed moves (and, for a file dataset, every record_timestamp). */
  reprocess(id: string, at?: number): void {
    const dataset = this.get(id);
    const time = at ?? this.nextProcessing(dataset);
    dataset.dataProcessedMs = time;
    if (!dataset.realtime) {
      const timestamp = formatMicros(time);
      for (const [recordId, record] of dataset.records) dataset.records.set(recordId, { ...record, timestamp });
    }
  }

  /** A new schema: values of removed fields are dropped, the dataset reprocessed. */
  setFields(id: string, fields: readonly OdsField[]): void {
    const dataset = this.get(id);
    dataset.fields = fields;
    const kept = new Set(fields.map((field) => field.name));
    const records = [...dataset.records.values()];
    dataset.records.clear();
    const time = this.nextProcessing(dataset);
    for (const record of records) {
      this.put(dataset, Object.fromEntries(Object.entries(record.values).filter(([name]) => kept.has(name))), formatMicros(time));
    }
    this.reprocess(id, time);
  }

  /** Changes metadata of one template (`default` by default); metadata_processed moves. */
  setMetas(id: string, patch: Readonly<Record<string, JsonValue>>, template = 'default'): void {
    const dataset = this.get(id);
    dataset.metas[template] = { ...(dataset.metas[template] ?? {}), ...patch };
    dataset.metadataProcessedMs = this.nowMs();
  }

  setFiles(id: string, files: { readonly attachments?: readonly OdsFile[]; readonly alternativeExports?: readonly OdsFile[] }): void {
    const dataset = this.get(id);
    if (files.attachments !== undefined) dataset.attachments = files.attachments;
    if (files.alternativeExports !== undefined) dataset.alternativeExports = files.alternativeExports;
    dataset.metadataProcessedMs = this.nowMs();
  }

  private put(dataset: HostedDataset, values: RecordValues, timestamp: string): void {
    const known = dataset.normalise(values);
    const recordId = dataset.recordId(known);
    // Same id (same values, or same Unique ID values): the later record replaces the earlier one.
    dataset.records.delete(recordId);
    dataset.records.set(recordId, { id: recordId, timestamp, values: known });
  }

  /**
   * Processing times move by whole seconds, as data_processed is written: two reprocessings in the
   * same second would otherwise look like none to a client gating on it.
   */
  private nextProcessing(dataset: HostedDataset): number {
    const now = Math.floor(this.nowMs() / 1000) * 1000;
    return dataset.dataProcessedMs === undefined ? now : Math.max(now, dataset.dataProcessedMs + 1000);
  }

  private nowMs(): number {
    return this.now().getTime();
  }
}
