import type { ColumnType, SqlValue, TableSpec } from '../../core/tables.js';
import type { Bound, DriverRow, RelationKind, SqlConnection } from '../sql/engine.js';
import { quoteIdent } from '../sql/quote.js';
import type { BindValue, SqliteHandle } from './sqlite-handle.js';

/**
 * One SQLite connection as the shared SQL code uses it: statements run synchronously (the shared
 * code awaits the plain values they return). Integers are read as bigint where they do not fit a
 * double, as readCell expects.
 */
export class SqliteConnection implements SqlConnection {
  constructor(readonly db: SqliteHandle) {}

  run(sql: string, params: readonly Bound[] = []): number {
    return this.db.run(sql, params.map((param) => sqliteValue(param.value)));
  }

  all(sql: string, params: readonly Bound[] = []): DriverRow[] {
    return this.db.all(
      sql,
      params.map((param) => sqliteValue(param.value)),
      true,
    );
  }

  relationKind(name: string): RelationKind | undefined {
    const row = this.db.get("SELECT type FROM sqlite_master WHERE name = ? COLLATE NOCASE AND type IN ('table', 'view')", [name]) as { type: RelationKind } | undefined;
    return row?.type;
  }

  /** A spec reconstructed from SQLite's own description, for comparing with a table it did not create. */
  introspect(name: string): TableSpec {
    const columns = this.db.pragma(`table_info(${quoteIdent(name)})`) as { name: string; type: string; notnull: number; pk: number }[];
    const typeOf = (declared: string): ColumnType => {
      const upper = declared.toUpperCase();
      if (upper.includes('INT')) return 'integer';
      if (upper.includes('REAL') || upper.includes('FLOA') || upper.includes('DOUB')) return 'real';
      return 'text';
    };
    return {
      name,
      columns: columns.map((column) => ({ name: column.name, type: typeOf(column.type), ...(column.notnull && column.pk === 0 ? { nullable: false } : {}) })),
      primaryKey: columns
        .filter((column) => column.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((column) => column.name),
    };
  }
}

/** SQLite has no boolean: 1 and 0, as it stores them. */
export function sqliteValue(value: SqlValue | undefined): BindValue {
  return typeof value === 'boolean' ? (value ? 1 : 0) : (value ?? null);
}
