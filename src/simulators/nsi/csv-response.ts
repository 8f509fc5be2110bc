import { csvCell, type CsvCell } from './csv-text.js';
import { KEY_SEPARATOR, type ObservationRecord } from './dataflow-content.js';
import type { HostedDataflow } from './hosted-dataflow.js';
import { matchesAttachment, matchesKey, matchesMetadata, mayTouch, type KeyFilter } from './key-filter.js';

/**
 * The SDMX-CSV 2.0 lines of a data or referential-metadata answer, generated lazily so that a
 * million observations never sit in memory as text.
 *
 * Without `updatedAfter`: the current content, one row per observation plus one row per
 * higher-level attribute record. With it (.Stat's synchronisation answer, docs/sdmx.md): first
 * the deletions made since then as Delete rows (the Delete rows as uploaded, wildcards and
 * `*`-marked components included, plus whole observations that went away otherwise), then a
 * Replace row for every observation and attribute record changed since then, with all its current
 * values. Applied to a copy as of `updatedAfter` this gives exactly the current content:
 * deletions commute with each other, and everything that exists and changed is restated in full
 * after them (a Replace of an observation restates all its values; attribute records only ever
 * lose values through Delete rows, which are replayed).
 */

export interface CsvAnswerOptions {
  /** ms since the epoch; changes at or after it are answered (the boundary is inclusive: replays are harmless). */
  readonly updatedAfter: number | undefined;
  readonly filter: KeyFilter;
  /** Repeat the current higher-level attribute values on observation rows, as CSV exports often do. */
  readonly attributesOnObservationRows: boolean;
  /** What marks a component to delete: .Stat accepts `*`, the SDMX-CSV text shows `-`. */
  readonly deleteMarker: string;
  /** A full answer has an ACTION column with `I`, or none (then Merge is implied). */
  readonly fullLoadAction: 'I' | 'omit';
  /** `dataflow` per the spec; .Stat examples show `DATAFLOW`. */
  readonly structureLabel: string;
  readonly lineEnding: '\n' | '\r\n';
}

export function* dataLines(flow: HostedDataflow, options: CsvAnswerOptions): Generator<string> {
  const { structure, content } = flow;
  const { filter, updatedAfter } = options;
  const withAction = updatedAfter !== undefined || options.fullLoadAction === 'I';
  const eol = options.lineEnding;
  yield header(withAction, structure.dataColumns) + eol;

  const base = `${options.structureLabel},${csvCell(structure.ref)},`;
  const prefix = (action: string): string => (withAction ? `${base}${action},` : base);
  const changedAction = updatedAfter === undefined ? 'I' : 'R';
  const dimCount = structure.dimensions.length;

  // Where each measure/attribute column takes its value from.
  type Source = { obs: number } | { attachment: number; index: number };
  const columnSources: Source[] = [
    ...structure.measures.map((_, i) => ({ obs: i })),
    ...structure.attributes.map((a): Source => {
      const role = structure.role(a.id);
      if (role?.kind === 'observation') return { obs: role.index };
      if (role?.kind === 'attribute') return { attachment: role.attachment, index: role.index };
      throw new Error(`internal: ${a.id} has no role`);
    }),
  ];
  const columnIds = [...structure.measures, ...structure.attributes.map((a) => a.id)];

  if (updatedAfter !== undefined) {
    const dPrefix = prefix('D');
    for (const tombstone of tombstonesSince(content.tombstones, updatedAfter)) {
      if (!mayTouch(filter, tombstone.scope)) continue;
      let line = dPrefix;
      for (let d = 0; d < dimCount; d += 1) line += `${csvCell(tombstone.scope[d])},`;
      line += columnIds
        .map((id) => (tombstone.components !== 'all' && tombstone.components.includes(id) ? options.deleteMarker : ''))
        .join(',');
      yield line + eol;
    }
  }

  const obsPrefix = prefix(changedAction);
  const replicate = options.attributesOnObservationRows;
  const attachmentKeys = structure.attachments.map((a) => a.dimensionIndexes);
  const observationLine = (record: ObservationRecord): string => {
    let line = obsPrefix;
    const dims = record.dims;
    for (let d = 0; d < dimCount; d += 1) line += `${csvCell(dims[d])},`;
    for (let c = 0; c < columnSources.length; c += 1) {
      const source = columnSources[c]!;
      let value: CsvCell;
      if ('obs' in source) value = record.values[source.obs];
      else if (replicate) {
        const key = attachmentKeys[source.attachment]!.map((d) => dims[d]).join(KEY_SEPARATOR);
        value = content.attributeRecords[source.attachment]!.get(key)?.values[source.index];
      }
      line += c === 0 ? csvCell(value) : `,${csvCell(value)}`;
    }
    return line + eol;
  };
  for (const record of content.observations.values()) {
    if (updatedAfter !== undefined && record.changedAt < updatedAfter) continue;
    if (!matchesKey(filter, record.dims)) continue;
    yield observationLine(record);
  }

  for (let a = 0; a < structure.attachments.length; a += 1) {
    const attachment = structure.attachments[a]!;
    for (const record of content.attributeRecords[a]!.values()) {
      if (updatedAfter !== undefined && record.changedAt < updatedAfter) continue;
      if (!matchesAttachment(filter, attachment.dimensionIndexes, record.dims)) continue;
      let line = obsPrefix;
      for (let d = 0; d < dimCount; d += 1) {
        const j = attachment.dimensionIndexes.indexOf(d);
        line += `${j >= 0 ? csvCell(record.dims[j]) : ''},`;
      }
      line += columnSources
        .map((source) => ('attachment' in source && source.attachment === a ? csvCell(record.values[source.index]) : ''))
        .join(',');
      yield line + eol;
    }
  }
}

/** Referential metadata answer: the v2 data URL with `attributes=msd&measures=none`. */
export function* metadataLines(flow: HostedDataflow, options: CsvAnswerOptions): Generator<string> {
  const { structure, metadata } = flow;
  const { filter, updatedAfter } = options;
  const withAction = updatedAfter !== undefined || options.fullLoadAction === 'I';
  const eol = options.lineEnding;
  yield header(withAction, [...structure.dimensions, ...structure.metadataAttributes]) + eol;
  const base = `${options.structureLabel},${csvCell(structure.ref)},`;
  const prefix = (action: string): string => (withAction ? `${base}${action},` : base);
  const keyCells = (key: readonly string[]): string => key.map((k) => csvCell(k)).join(',');

  if (updatedAfter !== undefined) {
    const empty = structure.metadataAttributes.map(() => '').join(',');
    for (const tombstone of tombstonesSince(metadata.tombstones, updatedAfter)) {
      if (!matchesMetadata(filter, tombstone.key)) continue;
      yield `${prefix('D')}${keyCells(tombstone.key)},${empty}${eol}`;
    }
  }
  const changedPrefix = prefix(updatedAfter === undefined ? 'I' : 'R');
  for (const record of metadata.records.values()) {
    if (updatedAfter !== undefined && record.changedAt < updatedAfter) continue;
    if (!matchesMetadata(filter, record.key)) continue;
    yield `${changedPrefix}${keyCells(record.key)},${record.values.map((v) => csvCell(v)).join(',')}${eol}`;
  }
}

function header(withAction: boolean, columns: readonly string[]): string {
  return ['STRUCTURE', 'STRUCTURE_ID', ...(withAction ? ['ACTION'] : []), ...columns].join(',');
}

/** Tombstones are appended in time order, so the first one at or after `since` is found by bisection. */
function* tombstonesSince<T extends { readonly at: number }>(tombstones: readonly T[], since: number): Generator<T> {
  let lo = 0;
  let hi = tombstones.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tombstones[mid]!.at < since) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < tombstones.length; i += 1) yield tombstones[i]!;
}
