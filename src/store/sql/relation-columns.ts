import type { ColumnSpec, TableSpec, ViewSpec } from '../../core/tables.js';
import type { SqlConnection, SqlDialect } from './engine.js';
import { DSS_TABLES, DSS_VIEWS } from './internal-tables.js';
import { asText } from './read-values.js';
import { specFromJson } from './table-spec.js';
import { planView } from './view-sql.js';

/** A table or view the store made, as a reader sees it: its name, columns with their types, and its natural order. */
export interface RelationColumns {
  readonly name: string;
  readonly columns: readonly ColumnSpec[];
  /** The key of the table (a view: of its base table). */
  readonly orderBy: readonly string[];
}

/** The committed spec of a table the store made, or undefined. */
export async function tableSpecOf(conn: SqlConnection, dialect: SqlDialect, name: string): Promise<TableSpec | undefined> {
  const rows = await conn.all(`SELECT spec FROM ${dialect.relation(DSS_TABLES.name)} WHERE name = ${dialect.param(0)}`, [{ value: name, type: 'text' }]);
  return rows[0] ? specFromJson(asText(rows[0].spec)) : undefined;
}

/** A table of the store's catalog, or a view made by ensureView (its columns planned from its tables' specs); undefined when neither. */
export async function relationColumns(conn: SqlConnection, dialect: SqlDialect, name: string): Promise<RelationColumns | undefined> {
  const spec = await tableSpecOf(conn, dialect, name);
  if (spec) return { name: spec.name, columns: spec.columns, orderBy: spec.primaryKey };
  const views = await conn.all(`SELECT name, spec FROM ${dialect.relation(DSS_VIEWS.name)} WHERE name = ${dialect.param(0)}`, [{ value: name, type: 'text' }]);
  const row = views[0];
  if (!row) return undefined;
  const viewSpec = JSON.parse(asText(row.spec)) as ViewSpec;
  const specs = new Map<string, TableSpec | undefined>();
  for (const table of [viewSpec.from, ...viewSpec.leftJoins.map((join) => join.table)]) specs.set(table, await tableSpecOf(conn, dialect, table));
  return { name: asText(row.name), ...planView(viewSpec, (table) => specs.get(table), dialect) };
}
