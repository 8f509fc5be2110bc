import { createHash } from 'node:crypto';
import type { ColumnSpec, ColumnType, TableSpec } from '../../core/tables.js';
import { MAX_IDENTIFIER_LENGTH, assertIdentifier } from '../identifiers.js';
import { StoreSchemaError } from '../store.js';

const COLUMN_TYPES = new Set(['text', 'integer', 'real', 'json', 'boolean', 'timestamp']);

/**
 * Names the store keeps for itself. Compared case-insensitively because SQLite (and SQL Server)
 * fold identifier case: a remote dataset called "Sync_State" must not land on our state table.
 */
export function isReservedName(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === 'sync_state' || lower.startsWith('dss_') || lower.startsWith('sqlite_');
}

export function assertUserRelationName(name: string, what: string): string {
  assertIdentifier(name, what);
  if (isReservedName(name)) {
    throw new StoreSchemaError(`${what} ${JSON.stringify(name)} is reserved for the store's own tables (sync_state, dss_*, sqlite_*)`);
  }
  return name;
}

/** Checks a spec before any SQL is written from it, so every engine refuses the same specs with the same words. */
export function validateTableSpec(spec: TableSpec): void {
  const table = assertUserRelationName(spec.name, 'table name');
  if (spec.columns.length === 0) throw new StoreSchemaError(`table ${table}: no columns`);
  const seen = new Set<string>();
  for (const column of spec.columns) {
    assertIdentifier(column.name, `table ${table}: column name`);
    if (!COLUMN_TYPES.has(column.type)) {
      throw new StoreSchemaError(`table ${table}, column ${column.name}: unknown type ${JSON.stringify(column.type)}`);
    }
    const folded = column.name.toLowerCase();
    if (seen.has(folded)) throw new StoreSchemaError(`table ${table}: column ${column.name} appears twice (names are compared without case)`);
    seen.add(folded);
  }
  if (spec.primaryKey.length === 0) throw new StoreSchemaError(`table ${table}: a primary key is required (changes are applied by key)`);
  assertColumnsOf(spec, spec.primaryKey, 'primary key');
  if (new Set(spec.primaryKey).size !== spec.primaryKey.length) throw new StoreSchemaError(`table ${table}: primary key lists a column twice`);
  for (const index of spec.indexes ?? []) {
    if (index.length === 0) throw new StoreSchemaError(`table ${table}: an index needs at least one column`);
    assertColumnsOf(spec, index, 'index');
  }
}

export function assertColumnsOf(spec: TableSpec, names: readonly string[], what: string): void {
  for (const name of names) {
    if (!spec.columns.some((column) => column.name === name)) {
      throw new StoreSchemaError(`table ${spec.name}: ${what} names column ${JSON.stringify(name)}, which the table does not have`);
    }
  }
}

export function columnOf(spec: TableSpec, name: string, what: string): ColumnSpec {
  const column = spec.columns.find((candidate) => candidate.name === name);
  if (!column) {
    throw new StoreSchemaError(`table ${spec.name}: ${what} names column ${JSON.stringify(name)}, which the table does not have`);
  }
  return column;
}

/** The columns an operation begins (staging, a snapshot) with: named once each, the whole key among them. */
export function begunColumns(spec: TableSpec, names: readonly string[], what: string): ColumnSpec[] {
  if (names.length === 0) throw new StoreSchemaError(`table ${spec.name}: ${what} names no column`);
  if (new Set(names).size !== names.length) throw new StoreSchemaError(`table ${spec.name}: ${what} names a column twice`);
  const columns = names.map((name) => columnOf(spec, name, what));
  for (const name of spec.primaryKey) {
    if (!names.includes(name)) throw new StoreSchemaError(`table ${spec.name}: ${what} lacks key column ${name}`);
  }
  return columns;
}

export function isNullableColumn(spec: TableSpec, column: ColumnSpec): boolean {
  return column.nullable !== false && !spec.primaryKey.includes(column.name);
}

/**
 * What separates a stored table from the one asked for, in words for the error message; empty when
 * they agree. Indexes are left out: a new index is added, never a reason to refuse. `sameType`
 * loosens the type check for tables read back from the engine, which cannot tell json from text.
 */
export function describeSpecDifference(
  stored: TableSpec,
  wanted: TableSpec,
  sameType: (stored: ColumnType, wanted: ColumnType) => boolean = (a, b) => a === b,
): string[] {
  const differences: string[] = [];
  const storedByName = new Map(stored.columns.map((column) => [column.name, column]));
  const wantedByName = new Map(wanted.columns.map((column) => [column.name, column]));
  const added = wanted.columns.filter((column) => !storedByName.has(column.name));
  const missing = stored.columns.filter((column) => !wantedByName.has(column.name));
  if (added.length > 0) differences.push(`added columns ${added.map(describeColumn).join(', ')}`);
  if (missing.length > 0) differences.push(`missing columns ${missing.map(describeColumn).join(', ')}`);
  for (const column of wanted.columns) {
    const before = storedByName.get(column.name);
    if (!before) continue;
    if (!sameType(before.type, column.type)) differences.push(`column ${column.name} type ${before.type} -> ${column.type}`);
    else if (isNullableColumn(stored, before) !== isNullableColumn(wanted, column)) {
      differences.push(`column ${column.name} ${isNullableColumn(stored, before) ? 'nullable -> not null' : 'not null -> nullable'}`);
    }
  }
  if (stored.primaryKey.join('\u0000') !== wanted.primaryKey.join('\u0000')) {
    differences.push(`primary key (${stored.primaryKey.join(', ')}) -> (${wanted.primaryKey.join(', ')})`);
  }
  return differences;
}

export function schemaMismatchError(wanted: TableSpec, differences: readonly string[]): StoreSchemaError {
  return new StoreSchemaError(
    `table ${wanted.name} exists with a different shape: ${differences.join('; ')}. ` +
      'A full load (replaceTable) rebuilds it; otherwise drop the table or reset the stream.',
  );
}

function describeColumn(column: ColumnSpec): string {
  return `${column.name} (${column.type})`;
}

/**
 * Index names share one namespace per schema/database, so they carry the table name; a short hash
 * of the columns keeps them unique and within the identifier length every engine accepts.
 */
export function indexName(table: string, columns: readonly string[]): string {
  const hash = createHash('sha256').update(`${table}\u0000${columns.join('\u0000')}`).digest('hex').slice(0, 8);
  return `${table.slice(0, MAX_IDENTIFIER_LENGTH - 12)}_ix_${hash}`;
}

/** The primary-key constraint's name, chosen by us so that a rebuilt table can take it over by renaming. */
export function primaryKeyName(table: string): string {
  const hash = createHash('sha256').update(`${table}\u0000primary key`).digest('hex').slice(0, 8);
  return `${table.slice(0, MAX_IDENTIFIER_LENGTH - 12)}_pk_${hash}`;
}

/** Indexes of `wanted` followed by those of `stored` it does not repeat: indexes are only ever added. */
export function mergedIndexes(stored: TableSpec | undefined, wanted: TableSpec): (readonly string[])[] {
  const all = [...(wanted.indexes ?? []), ...(stored?.indexes ?? [])];
  const seen = new Set<string>();
  return all.filter((columns) => {
    const key = columns.join('\u0000');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The spec as stored in the catalog: plain JSON, indexes normalised. */
export function specToJson(spec: TableSpec): string {
  return JSON.stringify({
    name: spec.name,
    columns: spec.columns.map((column) => ({ name: column.name, type: column.type, ...(column.nullable === false ? { nullable: false } : {}) })),
    primaryKey: spec.primaryKey,
    indexes: spec.indexes ?? [],
  });
}

export function specFromJson(text: string): TableSpec {
  return JSON.parse(text) as TableSpec;
}
