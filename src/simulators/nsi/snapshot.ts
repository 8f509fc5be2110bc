import type { CsvCell } from './csv-text.js';
import type { DataflowContent } from './dataflow-content.js';
import type { MetadataContent } from './metadata-content.js';

/**
 * A dataflow's content in a canonical, comparable form: what a faithful mirror must hold, cell
 * for cell. Only present values appear (an empty string is a present value); entries are sorted
 * by key, comparing the key's strings one by one.
 */
export interface NsiSnapshot {
  /** Full key (dimension values in DSD order, time last) -> measure and observation-level attribute values. */
  readonly observations: readonly SnapshotEntry[];
  /** Per group id and `series`: partial key (that attachment's dimensions in DSD order) -> values. */
  readonly attributes: Readonly<Record<string, readonly SnapshotEntry[]>>;
  readonly dataflowAttributes: Readonly<Record<string, string>>;
  /** Attachment (a value or `~` per dimension) -> referential metadata values. */
  readonly metadata: readonly SnapshotEntry[];
}

export interface SnapshotEntry {
  readonly key: readonly string[];
  readonly values: Readonly<Record<string, string>>;
}

export function compareKeys(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

export function sortEntries(entries: SnapshotEntry[]): SnapshotEntry[] {
  return entries.sort((x, y) => compareKeys(x.key, y.key));
}

export function valuesRecord(names: readonly string[], values: readonly CsvCell[]): Record<string, string> {
  const record: Record<string, string> = {};
  values.forEach((v, i) => {
    if (v !== undefined) record[names[i]!] = v;
  });
  return record;
}

export function snapshotOf(content: DataflowContent, metadata: MetadataContent): NsiSnapshot {
  const structure = content.structure;
  const observations = sortEntries(
    [...content.observations.values()].map((o) => ({ key: o.dims, values: valuesRecord(structure.observationComponents, o.values) })),
  );
  const attributes: Record<string, SnapshotEntry[]> = {};
  let dataflowAttributes: Record<string, string> = {};
  structure.attachments.forEach((attachment, a) => {
    const records = [...content.attributeRecords[a]!.values()];
    if (attachment.level === 'dataflow') {
      dataflowAttributes = records[0] ? valuesRecord(attachment.attributes, records[0].values) : {};
      return;
    }
    attributes[attachment.name] = sortEntries(records.map((r) => ({ key: r.dims, values: valuesRecord(attachment.attributes, r.values) })));
  });
  const meta = sortEntries(
    [...metadata.records.values()].map((m) => ({ key: m.key, values: valuesRecord(structure.metadataAttributes, m.values) })),
  );
  return { observations, attributes, dataflowAttributes, metadata: meta };
}
