import type { JsonValue } from '../../core/json.js';
import type { StructureSignature } from './structure.js';

/**
 * The committed state of an SDMX stream: where to resume (`updatedAfter`, sent as is), and what the
 * mirror's tables were made from, so that a changed structure or prefix is noticed before anything
 * is written into tables that no longer fit.
 */
export interface SdmxCursor {
  readonly updatedAfter: string;
  readonly prefix: string;
  readonly structure: StructureSignature;
}

export function cursorToJson(cursor: SdmxCursor): JsonValue {
  return {
    updatedAfter: cursor.updatedAfter,
    prefix: cursor.prefix,
    structure: {
      dimensions: [...cursor.structure.dimensions],
      measures: [...cursor.structure.measures],
      attributes: [...cursor.structure.attributes],
      metadata: [...cursor.structure.metadata],
    },
  };
}

/** Null for a never-synced (or reset) stream; throws on a cursor this source did not write. */
export function cursorFromJson(value: JsonValue, streamId: string): SdmxCursor | null {
  if (value === null) return null;
  const bad = (): Error => new Error(`stream ${streamId}: the stored cursor ${JSON.stringify(value).slice(0, 200)} is not an SDMX cursor; reset the stream`);
  if (typeof value !== 'object' || Array.isArray(value)) throw bad();
  const { updatedAfter, prefix, structure } = value;
  if (typeof updatedAfter !== 'string' || typeof prefix !== 'string' || typeof structure !== 'object' || structure === null || Array.isArray(structure)) {
    throw bad();
  }
  const strings = (list: JsonValue | undefined): string[] => {
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) throw bad();
    return list;
  };
  return {
    updatedAfter,
    prefix,
    structure: {
      dimensions: strings(structure.dimensions),
      measures: strings(structure.measures),
      attributes: strings(structure.attributes),
      metadata: strings(structure.metadata),
    },
  };
}
