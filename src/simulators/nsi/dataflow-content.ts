import type { CsvCell } from './csv-text.js';
import type { DataflowStructure } from './dataflow-structure.js';

/**
 * The data of one dataflow (observations and higher-level attribute values) and .Stat's action
 * semantics applied to it (docs/sdmx.md, "Applying actions"). It remembers when every record changed and
 * keeps every deletion as a tombstone, because an `updatedAfter` answer must tell what went away.
 */

/** Merge (I/A/M), Replace, Delete. */
export type DataAction = 'M' | 'R' | 'D';

/** One row of a message in structure terms; `undefined` is an omitted cell. */
export interface DataRow {
  readonly action: DataAction;
  /** One cell per dimension, time last; omitted = not given (a wildcard in a delete). */
  readonly dims: readonly CsvCell[];
  /** One cell per observation component (measures, then observation-level attributes). */
  readonly observation: readonly CsvCell[];
  /** Per attachment (structure.attachments), one cell per attribute. */
  readonly attributes: readonly (readonly CsvCell[])[];
}

export interface ObservationRecord {
  readonly dims: readonly string[];
  /** Per observation component; undefined = no value. Never all undefined. */
  values: CsvCell[];
  changedAt: number;
}

export interface AttributeRecord {
  /** Values of the attachment's dimensions, in dimension order. */
  readonly dims: readonly string[];
  values: CsvCell[];
  changedAt: number;
}

/**
 * A deletion as a Delete row would state it. Delete rows as uploaded are kept as they came
 * (wildcards included); removals that no Delete row of ours would reproduce on a copy of the
 * data (an observation pruned when its last value went, or emptied by a Replace) are kept per
 * observation, with the full key.
 */
export interface Tombstone {
  readonly at: number;
  /** One cell per dimension; undefined = any value. */
  readonly scope: readonly CsvCell[];
  /** Component ids whose values were deleted, or everything in the scope. */
  readonly components: readonly string[] | 'all';
}

export const KEY_SEPARATOR = '\u001f';

export function keyOf(values: readonly string[]): string {
  return values.join(KEY_SEPARATOR);
}

/** A problem with a row's shape (independent of the current content), or undefined. */
export function checkDataRow(structure: DataflowStructure, row: DataRow): string | undefined {
  const badDim = row.dims.findIndex((d) => d !== undefined && (d === '' || d === '~' || d.includes(KEY_SEPARATOR)));
  if (badDim >= 0) {
    const value = row.dims[badDim];
    const hint = value === '~' ? ' (.Stat data rows omit a dimension instead of switching it off)' : '';
    return `${structure.dimensions[badDim]} has an invalid value ${JSON.stringify(value)}${hint}`;
  }
  if (row.action === 'D') return undefined;
  const given = row.dims.map((d) => d !== undefined);
  if (given.every(Boolean)) return undefined;
  const observationValue = row.observation.findIndex((v) => v !== undefined);
  if (observationValue >= 0) {
    return `${structure.observationComponents[observationValue]} is an observation-level value and needs every dimension (${structure.dimensions.join(', ')})`;
  }
  for (let a = 0; a < structure.attachments.length; a += 1) {
    const attachment = structure.attachments[a]!;
    const cells = row.attributes[a] ?? [];
    const missing = attachment.dimensionIndexes.filter((d) => !given[d]);
    if (missing.length === 0) continue;
    const attribute = cells.findIndex((v) => v !== undefined);
    if (attribute >= 0) {
      const names = missing.map((d) => structure.dimensions[d]).join(', ');
      return `attribute ${attachment.attributes[attribute]} is attached to ${attachment.name} and needs ${names}`;
    }
  }
  return undefined;
}

export class DataflowContent {
  readonly observations = new Map<string, ObservationRecord>();
  /** Per attachment (structure.attachments), records by key; the dataflow level has key ''. */
  readonly attributeRecords: Map<string, AttributeRecord>[];
  /** In time order. */
  readonly tombstones: Tombstone[] = [];
  /** One string per distinct dimension value: codes repeat across millions of keys. */
  private readonly codes = new Map<string, string>();

  constructor(readonly structure: DataflowStructure) {
    this.attributeRecords = structure.attachments.map(() => new Map<string, AttributeRecord>());
  }

  /** Applies a row that passed checkDataRow, as part of the change made at `at`. */
  apply(row: DataRow, at: number): void {
    if (row.action === 'D') {
      this.delete(row, at);
      return;
    }
    const fullKey = row.dims.every((d) => d !== undefined);
    if (fullKey) {
      const dims = row.dims;
      const present = row.observation.some((v) => v !== undefined);
      const key = keyOf(dims);
      const existing = this.observations.get(key);
      if (row.action === 'R') {
        if (present) {
          this.observations.set(key, { dims: existing?.dims ?? this.intern(dims), values: [...row.observation], changedAt: at });
        } else if (existing) {
          // .Stat: a replaced observation with no value left is deleted "and marked as such".
          this.observations.delete(key);
          this.tombstones.push({ at, scope: existing.dims, components: 'all' });
        }
      } else if (present) {
        const record = existing ?? { dims: this.intern(dims), values: row.observation.map(() => undefined), changedAt: at };
        row.observation.forEach((v, i) => {
          if (v !== undefined) record.values[i] = v;
        });
        record.changedAt = at;
        if (!existing) this.observations.set(key, record);
      }
    }
    // Attribute values above the observation level are merged by M and R alike.
    this.structure.attachments.forEach((attachment, a) => {
      const cells = row.attributes[a];
      if (!cells || cells.every((v) => v === undefined)) return;
      const dims = attachment.dimensionIndexes.map((d) => row.dims[d] as string);
      const key = keyOf(dims);
      const records = this.attributeRecords[a]!;
      let record = records.get(key);
      if (!record) {
        record = { dims: this.intern(dims), values: attachment.attributes.map(() => undefined), changedAt: at };
        records.set(key, record);
      }
      for (let i = 0; i < cells.length; i += 1) {
        const v = cells[i];
        if (v !== undefined) record.values[i] = v;
      }
      record.changedAt = at;
    });
  }

  private intern(dims: readonly string[]): string[] {
    return dims.map((d) => {
      const known = this.codes.get(d);
      if (known !== undefined) return known;
      this.codes.set(d, d);
      return d;
    });
  }

  private delete(row: DataRow, at: number): void {
    const scope = row.dims;
    const observationTargets = indexesOfPresent(row.observation);
    const attributeTargets = row.attributes.map(indexesOfPresent);
    const everything = observationTargets.length === 0 && attributeTargets.every((t) => t.length === 0);
    let changed = false;

    for (const record of this.observationsIn(scope)) {
      const key = keyOf(record.dims);
      if (everything) {
        this.observations.delete(key);
        changed = true;
        continue;
      }
      if (observationTargets.length === 0) continue;
      let touched = false;
      for (const i of observationTargets) {
        if (record.values[i] !== undefined) {
          record.values[i] = undefined;
          touched = true;
        }
      }
      if (!touched) continue;
      changed = true;
      if (record.values.every((v) => v === undefined)) {
        this.observations.delete(key);
        // A copy may still hold values we no longer had when this row came, so the same row
        // would not empty it there: the removal is recorded on its own.
        this.tombstones.push({ at, scope: record.dims, components: 'all' });
      } else {
        record.changedAt = at;
      }
    }

    this.structure.attachments.forEach((attachment, a) => {
      const targets = attributeTargets[a] ?? [];
      if (!everything && targets.length === 0) return;
      const records = this.attributeRecords[a]!;
      for (const record of this.attributeRecordsIn(a, scope)) {
        const key = keyOf(record.dims);
        if (everything) {
          records.delete(key);
          changed = true;
          continue;
        }
        let touched = false;
        for (const i of targets) {
          if (record.values[i] !== undefined) {
            record.values[i] = undefined;
            touched = true;
          }
        }
        if (!touched) continue;
        changed = true;
        if (record.values.every((v) => v === undefined)) records.delete(key);
        else record.changedAt = at;
      }
    });

    if (changed) {
      const components = everything
        ? 'all'
        : [
            ...observationTargets.map((i) => this.structure.observationComponents[i]!),
            ...attributeTargets.flatMap((targets, a) => targets.map((i) => this.structure.attachments[a]!.attributes[i]!)),
          ];
      this.tombstones.push({ at, scope: [...scope], components });
    }
  }

  /** Observations whose key matches every dimension the scope gives. */
  *observationsIn(scope: readonly CsvCell[]): Generator<ObservationRecord> {
    if (scope.every((d) => d !== undefined)) {
      const record = this.observations.get(keyOf(scope));
      if (record) yield record;
      return;
    }
    const given = givenDimensions(scope);
    for (const record of this.observations.values()) {
      if (given.every((d) => record.dims[d] === scope[d])) yield record;
    }
  }

  /**
   * Records of an attachment inside the scope: only attachments that carry every dimension the
   * scope gives are inside it (a series-level delete leaves the groups the series belongs to alone,
   * a delete on TIME_PERIOD reaches no attribute above the observation).
   */
  *attributeRecordsIn(attachment: number, scope: readonly CsvCell[]): Generator<AttributeRecord> {
    const dimensionIndexes = this.structure.attachments[attachment]!.dimensionIndexes;
    const given = givenDimensions(scope);
    if (!given.every((d) => dimensionIndexes.includes(d))) return;
    const records = this.attributeRecords[attachment]!;
    if (given.length === dimensionIndexes.length) {
      const record = records.get(keyOf(dimensionIndexes.map((d) => scope[d] as string)));
      if (record) yield record;
      return;
    }
    for (const record of records.values()) {
      if (given.every((d) => record.dims[dimensionIndexes.indexOf(d)] === scope[d])) yield record;
    }
  }
}

function indexesOfPresent(cells: readonly CsvCell[]): number[] {
  const indexes: number[] = [];
  cells.forEach((v, i) => {
    if (v !== undefined) indexes.push(i);
  });
  return indexes;
}

function givenDimensions(scope: readonly CsvCell[]): number[] {
  return indexesOfPresent(scope);
}
