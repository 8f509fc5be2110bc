import type { ColumnType, TableSpec } from '../../core/tables.js';
import type { SqlDialect } from '../sql/engine.js';
import { internalColumnsSql } from '../sql/internal-tables.js';
import { quoteIdent } from '../sql/quote.js';
import { updateFromSql } from '../sql/staging.js';
import { isNullableColumn } from '../sql/table-spec.js';

const SQLITE_TYPES: Record<ColumnType, string> = {
  text: 'TEXT',
  json: 'TEXT',
  timestamp: 'TEXT',
  integer: 'INTEGER',
  real: 'REAL',
  boolean: 'INTEGER',
};

/**
 * SQLite's SQL: double-quoted identifiers, `?` placeholders, no schema, names without case, and
 * tables rebuilt in place (a reader keeps its WAL snapshot until the commit).
 */
export const sqliteDialect: SqlDialect = {
  quote: quoteIdent,
  param: () => '?',
  relation: (name) => quoteIdent(name),
  foldsCase: true,
  keepsRowDigests: false,
  columnType: (type) => SQLITE_TYPES[type],
  createTableSql: (spec, physicalName) => createTableSql(spec, physicalName),
  addColumnSql: (physicalName, column) => `ALTER TABLE ${quoteIdent(physicalName)} ADD COLUMN ${columnsSql({ name: physicalName, columns: [column], primaryKey: [] }).join('')}`,
  createIndexSql: (physicalName, indexName, columns) =>
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(indexName)} ON ${quoteIdent(physicalName)} (${columns.map((column) => quoteIdent(column)).join(', ')})`,
  createInternalTableSql: (table) =>
    `CREATE TABLE ${quoteIdent(table.name)} (${internalColumnsSql(table, quoteIdent, (column) => (column.type === 'text' ? 'TEXT' : 'INTEGER'), 'COLLATE NOCASE')})`,
  orderBy: (column) => quoteIdent(column.name),
  lockedRead: { afterTable: '', atEnd: '' },
  firstRows: (count) => ({ afterSelect: '', atEnd: ` LIMIT ${Math.trunc(count)}` }),
  rebuild: { kind: 'inPlace' },
  // The temp schema belongs to the connection; a temporary table created in a transaction goes
  // with its rollback. `IS NOT` is SQLite's null-safe inequality.
  staging: {
    relation: (name) => `temp.${quoteIdent(name)}`,
    createSql: (spec, name, keyed) => (keyed ? createTableSql(spec, name, 'TEMP ') : `CREATE TEMP TABLE ${quoteIdent(name)} (${columnsSql(spec).join(', ')})`),
    indexSql: (name, columns) => `CREATE INDEX temp.${quoteIdent(`${name}_key`)} ON ${quoteIdent(name)} (${columns.map((column) => quoteIdent(column)).join(', ')})`,
    distinct: sqliteDistinct,
    updateFromSql,
  },
};

/** SQLite's `IS NOT` treats NULL as equal to NULL, and compares each stored type as it is. */
export function sqliteDistinct(a: string, b: string): string {
  return `${a} IS NOT ${b}`;
}

function columnsSql(spec: TableSpec): string[] {
  return spec.columns.map((column) => {
    const notNull = !isNullableColumn(spec, column) ? ' NOT NULL' : '';
    return `${quoteIdent(column.name)} ${SQLITE_TYPES[column.type]}${notNull}`;
  });
}

/**
 * WITHOUT ROWID stores rows inside the primary-key b-tree, so composite text keys (SDMX
 * dimensions) are written once instead of twice: measured on 1M SDMX-shaped rows, the load ran
 * ~15% faster and the file was 87 MB instead of 152 MB; updates ran at about the same speed.
 * Rows carrying JSON documents stay in rowid tables, where large rows are cheaper to move, and so
 * does a single integer key, which is the rowid itself.
 */
function createTableSql(spec: TableSpec, physicalName: string, temporary: '' | 'TEMP ' = ''): string {
  const columns = columnsSql(spec);
  const key = `PRIMARY KEY (${spec.primaryKey.map((column) => quoteIdent(column)).join(', ')})`;
  const integerKey = spec.primaryKey.length === 1 && spec.columns.find((column) => column.name === spec.primaryKey[0])?.type === 'integer';
  const withoutRowid = !integerKey && !spec.columns.some((column) => column.type === 'json');
  return `CREATE ${temporary}TABLE ${quoteIdent(physicalName, 'table name')} (${columns.join(', ')}, ${key})${withoutRowid ? ' WITHOUT ROWID' : ''}`;
}
