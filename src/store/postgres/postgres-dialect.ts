import type { ColumnType, TableSpec } from '../../core/tables.js';
import type { SqlDialect } from '../sql/engine.js';
import { internalColumnsSql } from '../sql/internal-tables.js';
import { quoteIdent } from '../sql/quote.js';
import type { DistinctSql } from '../sql/changed-sql.js';
import { updateFromSql } from '../sql/staging.js';
import { indexName, isNullableColumn, primaryKeyName } from '../sql/table-spec.js';

/** json has no equality operator: its text (kept verbatim) is compared. */
export const postgresDistinct: DistinctSql = (a, b, type) => (type === 'json' ? `${a}::text IS DISTINCT FROM ${b}::text` : `${a} IS DISTINCT FROM ${b}`);

export const POSTGRES_TYPES: Record<ColumnType, string> = {
  text: 'TEXT',
  timestamp: 'TEXT',
  // json, not jsonb: jsonb rewrites the document (key order, spacing, duplicate keys), and a
  // mirror must hand back what the source sent. json still validates and offers the -> operators.
  json: 'JSON',
  integer: 'BIGINT',
  real: 'DOUBLE PRECISION',
  boolean: 'BOOLEAN',
};

/**
 * PostgreSQL's SQL in one schema: double-quoted identifiers, `$n` placeholders, relations
 * qualified by the schema, text compared byte-wise (COLLATE "C", as SQLite compares), row locks
 * for the epoch fence, and tables rebuilt under a shadow name: PostgreSQL's DROP would lock the
 * table against readers until the commit, and a full load must let them see the old rows meanwhile.
 */
export function postgresDialect(schema: string): SqlDialect {
  const schemaSql = quoteIdent(schema, 'schema name');
  const relation = (name: string): string => `${schemaSql}.${quoteIdent(name)}`;
  return {
    quote: quoteIdent,
    param: (index) => `$${index + 1}`,
    relation,
    foldsCase: false,
    keepsRowDigests: true,
    columnType: (type) => POSTGRES_TYPES[type],
    createTableSql: (spec, physicalName) => {
      const key = `CONSTRAINT ${quoteIdent(primaryKeyName(physicalName))} PRIMARY KEY (${keyList(spec)})`;
      return `CREATE TABLE ${relation(physicalName)} (${columnsSql(spec)}, ${key})`;
    },
    addColumnSql: (physicalName, column) => `ALTER TABLE ${relation(physicalName)} ADD COLUMN ${columnsSql({ name: physicalName, columns: [column], primaryKey: [] })}`,
    createIndexSql: (physicalName, index, columns) =>
      `CREATE INDEX IF NOT EXISTS ${quoteIdent(index)} ON ${relation(physicalName)} (${columns.map((column) => quoteIdent(column)).join(', ')})`,
    createInternalTableSql: (table) => {
      const typeOf = (column: { type: 'text' | 'int' | 'bigint' }): string => (column.type === 'text' ? 'TEXT' : column.type === 'int' ? 'INTEGER' : 'BIGINT');
      return `CREATE TABLE ${relation(table.name)} (${internalColumnsSql(table, quoteIdent, typeOf, '')})`;
    },
    orderBy: (column) => (column.type === 'text' ? `${quoteIdent(column.name)} COLLATE "C"` : quoteIdent(column.name)),
    lockedRead: { afterTable: '', atEnd: ' FOR UPDATE' },
    firstRows: (count) => ({ afterSelect: '', atEnd: ` LIMIT ${Math.trunc(count)}` }),
    rebuild: { kind: 'swap', swapSql: (shadow, name, spec) => swapSql(relation, shadow, name, spec) },
    // pg_temp is the connection's own schema; ON COMMIT DROP ends a staging table with its
    // transaction.
    staging: {
      relation: (name) => `pg_temp.${quoteIdent(name)}`,
      createSql: (spec, name, keyed) => `CREATE TEMP TABLE ${quoteIdent(name)} (${columnsSql(spec)}${keyed ? `, PRIMARY KEY (${keyList(spec)})` : ''}) ON COMMIT DROP`,
      indexSql: (name, columns) => `CREATE INDEX ON pg_temp.${quoteIdent(name)} (${columns.map((column) => quoteIdent(column)).join(', ')})`,
      distinct: postgresDistinct,
      updateFromSql,
    },
  };
}

/**
 * Column definitions. Text compares byte-wise (COLLATE "C"), as in SQLite: "newer wins" on text
 * stamps and key order must not depend on the database's locale.
 */
function columnsSql(spec: TableSpec): string {
  return spec.columns
    .map((column) => {
      const collate = POSTGRES_TYPES[column.type] === 'TEXT' ? ' COLLATE "C"' : '';
      return `${quoteIdent(column.name)} ${POSTGRES_TYPES[column.type]}${collate}${isNullableColumn(spec, column) ? '' : ' NOT NULL'}`;
    })
    .join(', ');
}

function keyList(spec: TableSpec): string {
  return spec.primaryKey.map((column) => quoteIdent(column)).join(', ');
}

/** Drops the old table and gives the shadow its name, its primary key's and its indexes' (they were named after the shadow). */
function swapSql(relation: (name: string) => string, shadow: string, name: string, spec: TableSpec): string[] {
  return [
    `DROP TABLE IF EXISTS ${relation(name)}`,
    `ALTER TABLE ${relation(shadow)} RENAME TO ${quoteIdent(name)}`,
    `ALTER TABLE ${relation(name)} RENAME CONSTRAINT ${quoteIdent(primaryKeyName(shadow))} TO ${quoteIdent(primaryKeyName(name))}`,
    ...(spec.indexes ?? []).map((columns) => `ALTER INDEX ${relation(indexName(shadow, columns))} RENAME TO ${quoteIdent(indexName(name, columns))}`),
  ];
}
