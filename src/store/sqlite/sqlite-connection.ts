import type Database from 'better-sqlite3';
import type { ColumnType, SqlValue, TableSpec } from '../../core/tables.js';
import type { Bound, DriverRow, RelationKind, SqlConnection } from '../sql/engine.js';
import { quoteIdent } from '../sql/quote.js';

/** Distinct statement texts kept prepared; shapes are few in practice, this only bounds a pathological caller. */
const MAX_CACHED_STATEMENTS = 1000;

/**
 * One better-sqlite3 connection: statements are prepared once and kept, and run synchronously
 * (the shared code awaits the plain values they return). Integers are read as bigint where they
 * do not fit a double, as readCell expects.
 */
export class SqliteConnection implements SqlConnection {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  run(sql: string, params: readonly Bound[] = []): number {
    return this.statement(sql).run(params.map((param) => sqliteValue(param.value))).changes;
  }

  all(sql: string, params: readonly Bound[] = []): DriverRow[] {
    return this.statement(sql)
      .safeIntegers(true)
      .all(params.map((param) => sqliteValue(param.value))) as DriverRow[];
  }

  relationKind(name: string): RelationKind | undefined {
    const row = this.statement("SELECT type FROM sqlite_master WHERE name = ? COLLATE NOCASE AND type IN ('table', 'view')").get(name) as
      | { type: RelationKind }
      | undefined;
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

  protected statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** SQLite has no boolean: 1 and 0, as it stores them. */
export function sqliteValue(value: SqlValue | undefined): Exclude<SqlValue, boolean> | undefined {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}
