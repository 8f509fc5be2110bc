import type { ChangeClock } from './change-clock.js';
import type { CsvCell } from './csv-text.js';
import { checkDataRow, DataflowContent, type DataAction, type DataRow } from './dataflow-content.js';
import type { DataflowStructure } from './dataflow-structure.js';
import { checkMetadataRow, MetadataContent, type MetadataRow } from './metadata-content.js';
import { snapshotOf, type NsiSnapshot } from './snapshot.js';
import { NsiUploadError, parseUpload } from './upload.js';

/** Dimension id -> value. Dimensions left out are omitted (a wildcard in a delete). */
export type DimensionKey = Readonly<Record<string, string>>;
/** Component id -> value. */
export type ComponentValues = Readonly<Record<string, string>>;

/**
 * Changes a test (or the demo) makes without writing CSV. Each maps to exactly one row of an
 * upload, so it has the same semantics as the equivalent SDMX-CSV row.
 */
export interface DataflowMutations {
  /** Merge: insert the observation or update the values given; others stay. */
  mergeObservation(key: DimensionKey, values: ComponentValues): void;
  /** Replace: the values given become the observation's; none given deletes it. */
  replaceObservation(key: DimensionKey, values: ComponentValues): void;
  deleteObservation(key: DimensionKey): void;
  /** A Delete row: omitted dimensions are wildcards; no components = everything in the scope. */
  deleteData(scope: DimensionKey, components?: readonly string[]): void;
  /** Set an attribute at its own level; `key` must give that level's dimensions (extra ones are ignored). */
  setAttribute(attribute: string, key: DimensionKey, value: string): void;
  deleteAttribute(attribute: string, key: DimensionKey): void;
  /** Referential metadata; every dimension is a value or `~`. */
  mergeMetadata(key: DimensionKey, values: ComponentValues): void;
  replaceMetadata(key: DimensionKey, values: ComponentValues): void;
  /** A Delete row of referential metadata: omitted = any, `*` = any value, `~` = not attached. */
  deleteMetadata(scope: DimensionKey, attributes?: readonly string[]): void;
}

export interface ChangeResult {
  /** When the change happened (ms since the epoch), the same for all its rows. */
  readonly at: number;
  readonly rows: number;
}

export class HostedDataflow {
  readonly content: DataflowContent;
  readonly metadata = new MetadataContent();

  constructor(
    readonly structure: DataflowStructure,
    private readonly clock: ChangeClock,
  ) {
    this.content = new DataflowContent(structure);
  }

  /** Applies an SDMX-CSV message as one change; throws NsiUploadError (and changes nothing) on a bad one. */
  upload(csvText: string): ChangeResult {
    const parsed = parseUpload(this.structure, csvText);
    const at = this.clock.next();
    if (parsed.kind === 'data') for (const row of parsed.rows) this.content.apply(row, at);
    else for (const row of parsed.rows) this.metadata.apply(row, at);
    return { at, rows: parsed.rows.length };
  }

  /** Several mutations as one change (one timestamp), applied in order. */
  batch(fn: (m: DataflowMutations) => void): ChangeResult {
    const rows: ({ data: DataRow } | { metadata: MetadataRow })[] = [];
    fn(new RowBuilder(this.structure, rows));
    const at = this.clock.next();
    for (const row of rows) {
      if ('data' in row) this.content.apply(row.data, at);
      else this.metadata.apply(row.metadata, at);
    }
    return { at, rows: rows.length };
  }

  /**
   * Merges many observations as one change without building a row per call: each is its key
   * (dimension values, time last) and its values in `structure.observationComponents` order.
   * For benchmarks and demos that need millions of observations quickly.
   */
  loadObservations(observations: Iterable<readonly [key: readonly string[], values: readonly CsvCell[]]>): ChangeResult {
    const s = this.structure;
    const at = this.clock.next();
    const noAttributes = s.attachments.map((a) => a.attributes.map(() => undefined));
    let rows = 0;
    for (const [dims, observation] of observations) {
      if (dims.length !== s.dimensions.length || observation.length !== s.observationComponents.length) {
        throw new NsiUploadError(`${s.ref}: observation ${rows + 1} has ${dims.length} key values and ${observation.length} values`);
      }
      const row: DataRow = { action: 'M', dims, observation, attributes: noAttributes };
      const problem = checkDataRow(s, row);
      if (problem) throw new NsiUploadError(`${s.ref}: observation ${rows + 1}: ${problem}`);
      this.content.apply(row, at);
      rows += 1;
    }
    return { at, rows };
  }

  mergeObservation(key: DimensionKey, values: ComponentValues): ChangeResult {
    return this.batch((m) => m.mergeObservation(key, values));
  }
  replaceObservation(key: DimensionKey, values: ComponentValues): ChangeResult {
    return this.batch((m) => m.replaceObservation(key, values));
  }
  deleteObservation(key: DimensionKey): ChangeResult {
    return this.batch((m) => m.deleteObservation(key));
  }
  deleteData(scope: DimensionKey, components?: readonly string[]): ChangeResult {
    return this.batch((m) => m.deleteData(scope, components));
  }
  setAttribute(attribute: string, key: DimensionKey, value: string): ChangeResult {
    return this.batch((m) => m.setAttribute(attribute, key, value));
  }
  deleteAttribute(attribute: string, key: DimensionKey): ChangeResult {
    return this.batch((m) => m.deleteAttribute(attribute, key));
  }
  mergeMetadata(key: DimensionKey, values: ComponentValues): ChangeResult {
    return this.batch((m) => m.mergeMetadata(key, values));
  }
  replaceMetadata(key: DimensionKey, values: ComponentValues): ChangeResult {
    return this.batch((m) => m.replaceMetadata(key, values));
  }
  deleteMetadata(scope: DimensionKey, attributes?: readonly string[]): ChangeResult {
    return this.batch((m) => m.deleteMetadata(scope, attributes));
  }

  snapshot(): NsiSnapshot {
    return snapshotOf(this.content, this.metadata);
  }
}

/** Turns mutation calls into checked rows, with errors that name the dataflow and component. */
class RowBuilder implements DataflowMutations {
  constructor(
    private readonly structure: DataflowStructure,
    private readonly rows: ({ data: DataRow } | { metadata: MetadataRow })[],
  ) {}

  mergeObservation(key: DimensionKey, values: ComponentValues): void {
    this.data('M', this.fullKey(key), values);
  }
  replaceObservation(key: DimensionKey, values: ComponentValues): void {
    this.data('R', this.fullKey(key), values);
  }
  deleteObservation(key: DimensionKey): void {
    this.data('D', this.fullKey(key), {});
  }
  deleteData(scope: DimensionKey, components: readonly string[] = []): void {
    this.data('D', this.dims(scope), Object.fromEntries(components.map((c) => [c, '*'])));
  }
  setAttribute(attribute: string, key: DimensionKey, value: string): void {
    this.data('M', this.attributeKey(attribute, key), { [attribute]: value });
  }
  deleteAttribute(attribute: string, key: DimensionKey): void {
    this.data('D', this.attributeKey(attribute, key), { [attribute]: '*' });
  }
  mergeMetadata(key: DimensionKey, values: ComponentValues): void {
    this.meta('M', key, values);
  }
  replaceMetadata(key: DimensionKey, values: ComponentValues): void {
    this.meta('R', key, values);
  }
  deleteMetadata(scope: DimensionKey, attributes: readonly string[] = []): void {
    this.meta('D', scope, Object.fromEntries(attributes.map((a) => [a, '*'])));
  }

  private data(action: DataAction, dims: CsvCell[], values: ComponentValues): void {
    const s = this.structure;
    const observation: CsvCell[] = s.observationComponents.map(() => undefined);
    const attributes: CsvCell[][] = s.attachments.map((a) => a.attributes.map(() => undefined));
    for (const [id, value] of Object.entries(values)) {
      const role = s.role(id);
      if (role?.kind === 'observation') observation[role.index] = value;
      else if (role?.kind === 'attribute') attributes[role.attachment]![role.index] = value;
      else throw new NsiUploadError(`${s.ref}: ${id} is not a measure or attribute`);
    }
    const row: DataRow = { action, dims, observation, attributes };
    const problem = checkDataRow(s, row);
    if (problem) throw new NsiUploadError(`${s.ref}: ${problem}`);
    this.rows.push({ data: row });
  }

  private meta(action: DataAction, key: DimensionKey, values: ComponentValues): void {
    const s = this.structure;
    const cells: CsvCell[] = s.metadataAttributes.map(() => undefined);
    for (const [id, value] of Object.entries(values)) {
      const role = s.role(id);
      if (role?.kind !== 'metadata') throw new NsiUploadError(`${s.ref}: ${id} is not a referential metadata attribute`);
      cells[role.index] = value;
    }
    const row: MetadataRow = { action, dims: this.dims(key), values: cells };
    const problem = checkMetadataRow(s, row);
    if (problem) throw new NsiUploadError(`${s.ref}: ${problem}`);
    this.rows.push({ metadata: row });
  }

  private dims(key: DimensionKey): CsvCell[] {
    for (const id of Object.keys(key)) {
      if (this.structure.role(id)?.kind !== 'dimension') throw new NsiUploadError(`${this.structure.ref}: ${id} is not a dimension`);
    }
    return this.structure.dimensions.map((d) => key[d]);
  }

  private fullKey(key: DimensionKey): CsvCell[] {
    const dims = this.dims(key);
    const missing = this.structure.dimensions.filter((_, i) => dims[i] === undefined);
    if (missing.length > 0) throw new NsiUploadError(`${this.structure.ref}: an observation key needs ${missing.join(', ')}`);
    return dims;
  }

  private attributeKey(attribute: string, key: DimensionKey): CsvCell[] {
    const s = this.structure;
    const role = s.role(attribute);
    if (role?.kind === 'observation' && s.measures.includes(attribute) === false) return this.fullKey(key);
    if (role?.kind !== 'attribute') throw new NsiUploadError(`${s.ref}: ${attribute} is not an attribute`);
    const wanted = s.attachments[role.attachment]!.dimensionIndexes;
    return s.dimensions.map((d, i) => {
      if (!wanted.includes(i)) return undefined;
      const value = key[d];
      if (value === undefined) throw new NsiUploadError(`${s.ref}: attribute ${attribute} needs a value for ${d}`);
      return value;
    });
  }
}
