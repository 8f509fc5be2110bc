import { createHash } from 'node:crypto';
import { assertIdentifier, MAX_IDENTIFIER_LENGTH, TableLayoutError } from '../../core/identifiers.js';
import { isRecord, type JsonValue } from '../../core/json.js';
import type { ColumnSpec, ColumnType, SqlValue, TableSpec } from '../../core/tables.js';
import type { OdsFieldInfo } from './dataset-object.js';
import { ExploreAnswerError } from './explore-errors.js';

/** The record's id (a hash of its values, or of its Unique ID fields) and its processing or arrival time. */
export const RECORD_ID = 'record_id';
export const RECORD_TIMESTAMP = 'record_timestamp';

/** A field as the mirror types it; the schema compared between runs. */
export interface MirroredField {
  readonly name: string;
  /** The portal's type, with `[]` when the field is multivalued (its values are lists). */
  readonly odsType: string;
  readonly column: ColumnType;
}

/**
 * One dataset's records table: `record_id`, `record_timestamp`, then one column per field, typed
 * from the field (text, int, double, boolean, date as ISO text, datetime; geo, file and JSON values
 * as JSON text), keyed by the record id or by the configured unique-key fields.
 */
export interface RecordTable {
  readonly spec: TableSpec;
  readonly fields: readonly MirroredField[];
  /** The key columns: `record_id`, or the unique-key fields. */
  readonly key: readonly string[];
  /** Column names in row order: record_id, record_timestamp, then the fields. */
  readonly columns: readonly string[];
  /** Where the key columns are in a row. */
  readonly keyPositions: readonly number[];
}

function columnTypeOf(field: OdsFieldInfo): ColumnType {
  if (isMultivalued(field)) return 'json';
  switch (field.type) {
    case 'text':
    case 'date':
      return 'text';
    case 'int':
      return 'integer';
    case 'double':
      return 'real';
    case 'boolean':
      return 'boolean';
    case 'datetime':
      return 'timestamp';
    default:
      // geo_point_2d, geo_shape, file, json_blob, and types yet to come.
      return 'json';
  }
}

function isMultivalued(field: OdsFieldInfo): boolean {
  const marker = field.annotations['multivalued'];
  return marker !== undefined && marker !== null && marker !== false;
}

export function planRecordTable(name: string, fields: readonly OdsFieldInfo[], uniqueKey: readonly string[] | undefined, subject: string): RecordTable {
  assertIdentifier(name, `${subject}: table name`);
  const taken = new Set([RECORD_ID, RECORD_TIMESTAMP]);
  const mirrored = fields.map((field) => {
    const column = assertIdentifier(field.name, `${subject}: field name`);
    if (taken.has(column.toLowerCase())) throw new TableLayoutError(`${subject}: field ${column} clashes with another column of the table (names are compared without case)`);
    taken.add(column.toLowerCase());
    return { name: column, odsType: `${field.type}${isMultivalued(field) ? '[]' : ''}`, column: columnTypeOf(field) };
  });
  const key = uniqueKey !== undefined && uniqueKey.length > 0 ? [...uniqueKey] : [RECORD_ID];
  for (const name of key) {
    if (name !== RECORD_ID && !mirrored.some((field) => field.name === name)) throw new TableLayoutError(`${subject}: the unique key names ${name}, which is not one of the dataset's fields`);
  }
  const columns: ColumnSpec[] = [
    { name: RECORD_ID, type: 'text', ...(key.includes(RECORD_ID) ? { nullable: false } : {}) },
    { name: RECORD_TIMESTAMP, type: 'timestamp' },
    ...mirrored.map((field) => ({ name: field.name, type: field.column, ...(key.includes(field.name) ? { nullable: false } : {}) })),
  ];
  const names = columns.map((column) => column.name);
  return { spec: { name, columns, primaryKey: key }, fields: mirrored, key, columns: names, keyPositions: key.map((column) => names.indexOf(column)) };
}

/** Default table of a dataset: `{prefix}_{dataset id}` in identifier characters, shortened with a hash when too long. */
export function recordTableName(prefix: string, datasetId: string): string {
  const name = `${prefix}_${datasetId.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '')}`;
  if (name.length <= MAX_IDENTIFIER_LENGTH) return name;
  const hash = createHash('sha256').update(datasetId).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_IDENTIFIER_LENGTH - 9).replace(/_+$/, '')}_${hash}`;
}

/** What changed between the schema a table was built with and the dataset's fields now; empty when nothing did. */
export function schemaChanges(before: readonly MirroredField[], now: readonly MirroredField[]): string[] {
  const old = new Map(before.map((field) => [field.name, field]));
  const current = new Map(now.map((field) => [field.name, field]));
  const added = now.filter((field) => !old.has(field.name)).map((field) => `${field.name} (${field.odsType})`);
  const removed = before.filter((field) => !current.has(field.name)).map((field) => field.name);
  const retyped = now.flatMap((field) => {
    const was = old.get(field.name);
    return was !== undefined && was.odsType !== field.odsType ? [`${field.name} ${was.odsType} -> ${field.odsType}`] : [];
  });
  return [
    ...(added.length > 0 ? [`added ${added.join(', ')}`] : []),
    ...(removed.length > 0 ? [`removed ${removed.join(', ')}`] : []),
    ...(retyped.length > 0 ? [`retyped ${retyped.join(', ')}`] : []),
  ];
}

/**
 * A record of an export (`recordid` and `record_timestamp` selected beside the fields) as a row of
 * the table. A value the field's type cannot hold is refused, naming the record and the field.
 */
export function recordRow(table: RecordTable, record: JsonValue, where: () => string): SqlValue[] {
  if (!isRecord(record)) throw new ExploreAnswerError(`${where()}: not a JSON object`);
  const id = record['recordid'];
  const timestamp = record['record_timestamp'];
  const row: SqlValue[] = [typeof id === 'string' ? id : null, typeof timestamp === 'string' ? timestamp : null];
  for (const field of table.fields) row.push(cell(field, record[field.name], where));
  for (const position of table.keyPositions) {
    if (row[position] === null) {
      const name = table.columns[position];
      throw new ExploreAnswerError(`${where()}: no ${name === RECORD_ID ? 'recordid' : `value for the unique-key field ${name}`}`);
    }
  }
  return row;
}

function cell(field: MirroredField, value: JsonValue | undefined, where: () => string): SqlValue {
  if (value === undefined || value === null) return null;
  const refuse = (expected: string) =>
    new ExploreAnswerError(`${where()}: field ${field.name} (${field.odsType}) has ${JSON.stringify(value).slice(0, 80)}, not ${expected}`);
  switch (field.column) {
    case 'json':
      return JSON.stringify(value);
    case 'text':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value.trim());
      throw refuse('an integer');
    case 'real':
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
      throw refuse('a number');
    case 'boolean':
      if (typeof value === 'boolean') return value;
      throw refuse('true or false');
    case 'timestamp':
      if (typeof value === 'string') return value;
      throw refuse('a date and time');
  }
}
