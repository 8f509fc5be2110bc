import type { CsvCell } from './csv-text.js';
import type { DataflowStructure } from './dataflow-structure.js';
import { NOT_ATTACHED } from './metadata-content.js';

/**
 * The key part of a data URL: per non-time dimension, the values asked for (undefined = any).
 * v1 writes `A+B..X` (empty = any, `+` = or) or `all`; v2 writes `A,B.*.X` or `*`, and a key
 * shorter than the dimension list is padded with wildcards.
 */
export type KeyFilter = readonly (ReadonlySet<string> | undefined)[];

export function parseKey(structure: DataflowStructure, key: string, flavour: 'v1' | 'v2'): KeyFilter | string {
  const nonTime = structure.dimensions.length - 1;
  if (key === 'all' || key === '*' || key === '') return [];
  const parts = key.split('.');
  if (parts.length > nonTime) {
    return `the key ${JSON.stringify(key)} has ${parts.length} parts, but ${structure.ref} has ${nonTime} dimensions before ${structure.timeDimension}`;
  }
  if (flavour === 'v1' && parts.length !== nonTime) {
    return `the key ${JSON.stringify(key)} has ${parts.length} parts, but ${structure.ref} has ${nonTime} dimensions before ${structure.timeDimension}`;
  }
  return parts.map((part) => {
    if (part === '' || part === '*') return undefined;
    return new Set(part.split(flavour === 'v1' ? '+' : /[,+]/));
  });
}

export function matchesKey(filter: KeyFilter, dims: readonly string[]): boolean {
  for (let i = 0; i < filter.length; i += 1) {
    const wanted = filter[i];
    if (wanted && !wanted.has(dims[i]!)) return false;
  }
  return true;
}

/** An attribute record is asked for when the dimensions it carries are. */
export function matchesAttachment(filter: KeyFilter, dimensionIndexes: readonly number[], dims: readonly string[]): boolean {
  for (let j = 0; j < dimensionIndexes.length; j += 1) {
    const wanted = filter[dimensionIndexes[j]!];
    if (wanted && !wanted.has(dims[j]!)) return false;
  }
  return true;
}

/** A delete scope can touch what was asked for unless a dimension it gives is filtered out. */
export function mayTouch(filter: KeyFilter, scope: readonly CsvCell[]): boolean {
  for (let i = 0; i < filter.length; i += 1) {
    const wanted = filter[i];
    const value = scope[i];
    if (wanted && value !== undefined && !wanted.has(value)) return false;
  }
  return true;
}

/** Referential metadata comes with the levels above the filter too (`~` = not attached matches any). */
export function matchesMetadata(filter: KeyFilter, key: readonly string[]): boolean {
  for (let i = 0; i < filter.length; i += 1) {
    const wanted = filter[i];
    const value = key[i]!;
    if (wanted && value !== NOT_ATTACHED && !wanted.has(value)) return false;
  }
  return true;
}
