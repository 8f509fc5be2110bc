import type { ColumnSpec, ColumnType, TableSpec } from '../../core/tables.js';
import { assertIdentifier } from '../identifiers.js';
import type { SqlDialect } from '../sql/engine.js';
import { internalColumnsSql, type InternalColumn } from '../sql/internal-tables.js';
import { updateFromSql } from '../sql/staging.js';
import { indexName, isNullableColumn, primaryKeyName } from '../sql/table-spec.js';
import { StoreSchemaError } from '../store.js';

/** SQL Server's own limit on a name (QUOTENAME returns NULL past it). */
const MAX_NAME = 128;

/**
 * Text compares by code point, case and accent included, as SQLite and PostgreSQL's COLLATE "C"
 * do: keys 'a' and 'A' are two rows, and "newer wins" on text stamps does not depend on the
 * database's collation.
 */
export const TEXT_COLLATION = 'Latin1_General_100_BIN2';
/** The store's own names (tables, views) are compared without case, as the catalog folds them. */
const NAME_COLLATION = 'Latin1_General_100_CI_AS';

/** Bytes an index key may hold (SQL Server's maximum capacity specifications). */
export const CLUSTERED_KEY_BYTES = 900;
export const NONCLUSTERED_KEY_BYTES = 1700;
/** nvarchar(n) is sized in byte pairs up to 4000; beyond that only MAX, which cannot be a key. */
const MAX_SIZED_NVARCHAR = 4000;

const FIXED_BYTES: Partial<Record<ColumnType, number>> = { integer: 8, real: 8, boolean: 1 };
const SCALAR_TYPES: Record<'integer' | 'real' | 'boolean', string> = { integer: 'BIGINT', real: 'FLOAT', boolean: 'BIT' };

function isText(type: ColumnType): boolean {
  return FIXED_BYTES[type] === undefined;
}

/** `[name]`, validated first; a `]` would be doubled, though validation already refuses it. */
export function quoteMssql(name: string, what = 'identifier'): string {
  assertIdentifier(name, what);
  if (name.length > MAX_NAME) throw new StoreSchemaError(`${what} ${JSON.stringify(name)} is longer than SQL Server's ${MAX_NAME} characters`);
  return `[${name.replace(/]/g, ']]')}]`;
}

/**
 * The characters each text column of an index key may hold, so that every key fits SQL Server's
 * limits: the primary key (clustered) within 900 bytes, each other index within 1,700. Text is
 * nvarchar, two bytes a character; the text columns of one key share what the fixed-size ones
 * leave, equally. A column in several keys takes the smallest share. Text columns in no key stay
 * nvarchar(max). The shares are a function of the spec alone, so the same spec always gives the
 * same table.
 */
export function keyTextLengths(spec: TableSpec): Map<string, number> {
  const typeOf = new Map(spec.columns.map((column) => [column.name, column.type]));
  const lengths = new Map<string, number>();
  const share = (columns: readonly string[], budget: number, sized: ReadonlyMap<string, number>): void => {
    let left = budget;
    const open: string[] = [];
    for (const name of columns) {
      const type = typeOf.get(name) ?? 'text';
      if (!isText(type)) left -= FIXED_BYTES[type] ?? 0;
      else if (sized.has(name)) left -= 2 * (sized.get(name) ?? 0);
      else open.push(name);
    }
    if (open.length === 0) return;
    const each = Math.min(MAX_SIZED_NVARCHAR, Math.floor(left / 2 / open.length));
    if (each < 1) throw new StoreSchemaError(`table ${spec.name}: the key (${columns.join(', ')}) leaves no room for its text columns within SQL Server's ${budget}-byte index key limit`);
    for (const name of open) lengths.set(name, Math.min(each, lengths.get(name) ?? Infinity));
  };
  share(spec.primaryKey, CLUSTERED_KEY_BYTES, new Map());
  const keySized = new Map(lengths);
  for (const index of spec.indexes ?? []) share(index, NONCLUSTERED_KEY_BYTES, keySized);
  return lengths;
}

/** The column's SQL Server type in a table of this spec (`lengths` from keyTextLengths). */
export function columnSql(column: ColumnSpec, lengths: ReadonlyMap<string, number>): string {
  if (!isText(column.type)) return SCALAR_TYPES[column.type as keyof typeof SCALAR_TYPES];
  return `NVARCHAR(${lengths.get(column.name) ?? 'MAX'}) COLLATE ${TEXT_COLLATION}`;
}

function columnsSql(spec: TableSpec): string {
  const lengths = keyTextLengths(spec);
  return spec.columns.map((column) => `${quoteMssql(column.name)} ${columnSql(column, lengths)}${isNullableColumn(spec, column) ? ' NULL' : ' NOT NULL'}`).join(', ');
}

function keyList(spec: TableSpec): string {
  return spec.primaryKey.map((name) => quoteMssql(name)).join(', ');
}

/** A T-SQL string literal of a validated name (sp_rename and OBJECT_ID take names as strings). */
function literal(text: string): string {
  return `N'${text.replace(/'/g, "''")}'`;
}

function internalType(column: InternalColumn, isKey: boolean): string {
  if (column.type === 'int') return 'INT';
  if (column.type === 'bigint') return 'BIGINT';
  // 450 characters: a clustered key of 900 bytes.
  const collation = column.foldCase ? NAME_COLLATION : TEXT_COLLATION;
  return `NVARCHAR(${isKey ? 450 : 'MAX'}) COLLATE ${collation}`;
}

/**
 * SQL Server's T-SQL in one schema: bracketed identifiers, `@pN` placeholders (sp_executesql),
 * relations qualified by the schema, names compared without case (the default collations fold
 * it), text in a binary collation, UPDLOCK/HOLDLOCK for the epoch fence, and tables rebuilt under
 * a shadow name and renamed in just before COMMIT (a DROP would lock readers out until then).
 * Staging tables are #temp tables: the connection's own, created in a plain batch so they outlive
 * the statement (one made inside sp_executesql would vanish with it).
 */
export function mssqlDialect(schema: string): SqlDialect {
  const schemaSql = quoteMssql(schema, 'schema name');
  const relation = (name: string): string => `${schemaSql}.${quoteMssql(name)}`;
  return {
    quote: quoteMssql,
    param: (index) => `@p${index + 1}`,
    relation,
    foldsCase: true,
    keepsRowDigests: true,
    columnType: (type) => (isText(type) ? 'NVARCHAR' : SCALAR_TYPES[type as keyof typeof SCALAR_TYPES]),
    createTableSql: (spec, physicalName) =>
      `CREATE TABLE ${relation(physicalName)} (${columnsSql(spec)}, CONSTRAINT ${quoteMssql(primaryKeyName(physicalName))} PRIMARY KEY CLUSTERED (${keyList(spec)}))`,
    addColumnSql: (physicalName, column) => `ALTER TABLE ${relation(physicalName)} ADD ${columnsSql({ name: physicalName, columns: [column], primaryKey: [] })}`,
    createIndexSql: (physicalName, index, columns) =>
      `IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE [name] = ${literal(index)} AND [object_id] = OBJECT_ID(${literal(relation(physicalName))})) ` +
      `CREATE INDEX ${quoteMssql(index)} ON ${relation(physicalName)} (${columns.map((column) => quoteMssql(column)).join(', ')})`,
    createInternalTableSql: (table) => `CREATE TABLE ${relation(table.name)} (${internalColumnsSql(table, quoteMssql, internalType, '')})`,
    orderBy: (column) => (isText(column.type) ? `${quoteMssql(column.name)} COLLATE ${TEXT_COLLATION}` : quoteMssql(column.name)),
    lockedRead: { afterTable: ' WITH (UPDLOCK, HOLDLOCK)', atEnd: '' },
    firstRows: (count) => ({ afterSelect: `TOP (${Math.trunc(count)}) `, atEnd: '' }),
    rebuild: {
      kind: 'swap',
      swapSql: (shadow, name, spec) => [
        `DROP TABLE IF EXISTS ${relation(name)}`,
        `EXEC sp_rename ${literal(relation(shadow))}, ${literal(name)}, N'OBJECT'`,
        `EXEC sp_rename ${literal(`${schemaSql}.${quoteMssql(primaryKeyName(shadow))}`)}, ${literal(primaryKeyName(name))}, N'OBJECT'`,
        ...(spec.indexes ?? []).map(
          (columns) => `EXEC sp_rename ${literal(`${relation(name)}.${quoteMssql(indexName(shadow, columns))}`)}, ${literal(indexName(name, columns))}, N'INDEX'`,
        ),
      ],
    },
    staging: {
      relation: (name) => tempTable(name),
      createSql: (spec, name, keyed) => `CREATE TABLE ${tempTable(name)} (${columnsSql(spec)}${keyed ? `, PRIMARY KEY (${keyList(spec)})` : ''})`,
      indexSql: (name, columns) => `CREATE INDEX ${quoteMssql(`${name}_key`)} ON ${tempTable(name)} (${columns.map((column) => quoteMssql(column)).join(', ')})`,
      distinct: mssqlDistinct,
      updateFromSql,
    },
  };
}

/**
 * IS DISTINCT FROM only exists from SQL Server 2022 on. DATALENGTH tells 'a' from 'a ', which =
 * does not (trailing spaces are ignored in comparisons).
 */
export function mssqlDistinct(a: string, b: string, type: ColumnType): string {
  return `(${a} <> ${b}${isText(type) ? ` OR DATALENGTH(${a}) <> DATALENGTH(${b})` : ''} OR (${a} IS NULL AND ${b} IS NOT NULL) OR (${a} IS NOT NULL AND ${b} IS NULL))`;
}

/** A #temp table of the connection: the name is the store's own, validated all the same. */
export function tempTable(name: string): string {
  return `#${assertIdentifier(name, 'temporary table name')}`;
}
