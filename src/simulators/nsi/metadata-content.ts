import type { CsvCell } from './csv-text.js';
import type { DataflowStructure } from './dataflow-structure.js';
import { KEY_SEPARATOR, keyOf } from './dataflow-content.js';

/**
 * The referential metadata of one dataflow, with .Stat's rules for it (DSS
 * upload-referential-metadata.md): an attachment is a value or `~` (not attached) for every
 * dimension; Merge and Replace must name it exactly; Replace is a full replacement of that
 * attachment; a Delete dimension may be omitted (any), `*` (any value, not `~`), `~` or a value.
 */

export const NOT_ATTACHED = '~';
export const ANY_VALUE = '*';

export type MetadataAction = 'M' | 'R' | 'D';

export interface MetadataRow {
  readonly action: MetadataAction;
  readonly dims: readonly CsvCell[];
  /** One cell per metadata attribute. */
  readonly values: readonly CsvCell[];
}

export interface MetadataRecord {
  /** A value or `~` per dimension. */
  readonly key: readonly string[];
  values: CsvCell[];
  changedAt: number;
}

/** An attachment that went away (metadata deletions are kept per attachment). */
export interface MetadataTombstone {
  readonly at: number;
  readonly key: readonly string[];
}

export function checkMetadataRow(structure: DataflowStructure, row: MetadataRow): string | undefined {
  const badDim = row.dims.findIndex((d) => d !== undefined && (d === '' || d.includes(KEY_SEPARATOR)));
  if (badDim >= 0) return `${structure.dimensions[badDim]} has an invalid value ${JSON.stringify(row.dims[badDim])}`;
  if (row.action === 'D') return undefined;
  const bad = row.dims.findIndex((d) => d === undefined || d === ANY_VALUE);
  if (bad >= 0) {
    return `${structure.dimensions[bad]} must be a value or ~ in a Merge or Replace of referential metadata (it cannot be omitted or *)`;
  }
  return undefined;
}

export class MetadataContent {
  readonly records = new Map<string, MetadataRecord>();
  readonly tombstones: MetadataTombstone[] = [];

  apply(row: MetadataRow, at: number): void {
    if (row.action === 'D') {
      this.delete(row, at);
      return;
    }
    const key = row.dims as readonly string[];
    const id = keyOf(key);
    const existing = this.records.get(id);
    const present = row.values.some((v) => v !== undefined);
    if (row.action === 'R') {
      if (present) this.records.set(id, { key: existing?.key ?? [...key], values: [...row.values], changedAt: at });
      else if (existing) this.remove(id, existing, at);
      return;
    }
    if (!present) return;
    const record = existing ?? { key: [...key], values: row.values.map(() => undefined), changedAt: at };
    row.values.forEach((v, i) => {
      if (v !== undefined) record.values[i] = v;
    });
    record.changedAt = at;
    if (!existing) this.records.set(id, record);
  }

  private delete(row: MetadataRow, at: number): void {
    const targets: number[] = [];
    row.values.forEach((v, i) => {
      if (v !== undefined) targets.push(i);
    });
    for (const [id, record] of this.records) {
      if (!matches(row.dims, record.key)) continue;
      if (targets.length === 0) {
        this.remove(id, record, at);
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
      if (record.values.every((v) => v === undefined)) this.remove(id, record, at);
      else record.changedAt = at;
    }
  }

  private remove(id: string, record: MetadataRecord, at: number): void {
    this.records.delete(id);
    this.tombstones.push({ at, key: record.key });
  }
}

function matches(scope: readonly CsvCell[], key: readonly string[]): boolean {
  return scope.every((s, i) => {
    if (s === undefined) return true;
    if (s === ANY_VALUE) return key[i] !== NOT_ATTACHED;
    return key[i] === s;
  });
}
