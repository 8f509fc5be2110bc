import type { ColumnSpec, TableSpec, ViewSpec } from '../../core/tables.js';
import { StoreSchemaError } from '../store.js';
import type { SqlDialect } from './engine.js';
import { assertColumnsOf, assertUserRelationName } from './table-spec.js';

export interface ViewPlan {
  /** The SELECT behind the view. */
  readonly sql: string;
  /** Its columns with their types, for reading it back like a table. */
  readonly columns: readonly ColumnSpec[];
  /** The base table's key: the natural order to list the view in. */
  readonly orderBy: readonly string[];
}

/**
 * The SELECT behind a ViewSpec, with every column listed: the view is regenerated from the current
 * table specs whenever one of its tables is rebuilt, so a full load that adds a column shows it.
 * Joins use ON against the base table rather than USING, which some engines resolve differently
 * once there is more than one join. Tables are named as the dialect names relations (with
 * PostgreSQL's schema).
 */
export function planView(spec: ViewSpec, tableOf: (name: string) => TableSpec | undefined, dialect: Pick<SqlDialect, 'quote' | 'relation'>): ViewPlan {
  const q = (name: string): string => dialect.quote(name);
  const view = assertUserRelationName(spec.name, 'view name');
  const known = (name: string, role: string): TableSpec => {
    assertUserRelationName(name, `view ${view}: ${role} table`);
    const table = tableOf(name);
    if (!table) throw new StoreSchemaError(`view ${view}: ${role} table ${name} is unknown (ensureTable it first)`);
    return table;
  };
  const base = known(spec.from, 'base');
  const names = new Set<string>();
  const selected: string[] = [];
  const columns: ColumnSpec[] = [];
  const select = (alias: string, column: ColumnSpec, owner: string): void => {
    const folded = column.name.toLowerCase();
    if (names.has(folded)) {
      throw new StoreSchemaError(`view ${view}: column ${column.name} of ${owner} clashes with a column already in the view`);
    }
    names.add(folded);
    selected.push(`${q(alias)}.${q(column.name)}`);
    columns.push({ name: column.name, type: column.type });
  };
  for (const column of base.columns) select('t0', column, base.name);
  const joins: string[] = [];
  spec.leftJoins.forEach((join, index) => {
    const table = known(join.table, 'joined');
    assertColumnsOf(base, join.using, `view ${view}: join with ${table.name}`);
    assertColumnsOf(table, join.using, `view ${view}: join`);
    const alias = `t${index + 1}`;
    for (const column of table.columns) {
      if (!table.primaryKey.includes(column.name) && !join.using.includes(column.name)) select(alias, column, table.name);
    }
    // No columns to match on: every row gets the joined table's values (a single-row table of
    // dataset-level values), or NULLs while it is empty.
    const on =
      join.using.length === 0
        ? '1 = 1'
        : join.using.map((column) => `${q(alias)}.${q(column)} = ${q('t0')}.${q(column)}`).join(' AND ');
    joins.push(` LEFT JOIN ${dialect.relation(table.name)} AS ${q(alias)} ON ${on}`);
  });
  return {
    sql: `SELECT ${selected.join(', ')} FROM ${dialect.relation(base.name)} AS ${q('t0')}${joins.join('')}`,
    columns,
    orderBy: base.primaryKey,
  };
}

/** The tables a view reads, so that rebuilding one of them can rebuild the view too. */
export function viewTables(spec: ViewSpec): string[] {
  return [spec.from, ...spec.leftJoins.map((join) => join.table)];
}
