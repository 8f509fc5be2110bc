import Database from 'better-sqlite3';
import type { Cell } from '../../core/tables.js';

/** A value better-sqlite3 binds (booleans are turned into 1 and 0 before). */
export type BindValue = string | number | bigint | null | Uint8Array;

export type SqliteRow = Record<string, unknown>;

/** The statements of one bulk upsert: `sql(n)` upserts n rows of `width` cells, at most `perStatement` at once. */
export interface UpsertStatements {
  readonly sql: (rows: number) => string;
  readonly perStatement: number;
  readonly width: number;
}

/** Turns the row a bulk upsert refused (its index among the batch's rows) into the error to throw. */
export type UpsertFailure = (row: number, cause: Error) => Error;

/** Distinct statement texts kept prepared; shapes are few in practice, this only bounds a pathological caller. */
const MAX_CACHED_STATEMENTS = 1000;

/** One better-sqlite3 connection as the SQLite engine uses it, addressed by SQL text (statements are prepared once and kept). */
export class SqliteHandle {
  private readonly statements = new Map<string, Database.Statement>();
  /** The parameters of one bulk statement, filled again for each: binding copies them, so one array serves. */
  private parameters: BindValue[] = [];

  constructor(readonly db: Database.Database) {}

  static open(path: string, options: Database.Options): SqliteHandle {
    return new SqliteHandle(new Database(path, options));
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  /** Runs a statement; returns the rows it changed. */
  run(sql: string, params: readonly BindValue[] = []): number {
    return this.statement(sql).run(params).changes;
  }

  get(sql: string, params: readonly BindValue[] = []): SqliteRow | undefined {
    return this.statement(sql).safeIntegers(false).get(params) as SqliteRow | undefined;
  }

  /** `safeIntegers`: integers as bigint (readCell turns those that fit into numbers). */
  all(sql: string, params: readonly BindValue[] = [], safeIntegers = false): SqliteRow[] {
    return this.statement(sql).safeIntegers(safeIntegers).all(params) as SqliteRow[];
  }

  /** As better-sqlite3's: the rows of a PRAGMA, or its first value with `simple`. */
  pragma(source: string, options?: { readonly simple?: boolean }): unknown {
    return this.db.pragma(source, { simple: options?.simple ?? false });
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  /**
   * Upserts the cells at `positions` of each row: full statements of `perStatement` rows, then one
   * for the rest. Returns the rows written. A statement that fails left no trace; its rows are
   * replayed one by one to find the row to blame (the transaction is rolled back after anyway).
   */
  upsert(s: UpsertStatements, rows: readonly (readonly Cell[])[], positions: readonly number[], failure: UpsertFailure): number {
    const { perStatement } = s;
    const full = rows.length >= perStatement ? this.statement(s.sql(perStatement)) : undefined;
    let written = 0;
    for (let start = 0; start < rows.length; start += perStatement) {
      const count = Math.min(perStatement, rows.length - start);
      const statement = count === perStatement && full !== undefined ? full : this.statement(s.sql(count));
      const parameters = count === perStatement ? this.bindable(count * positions.length) : new Array<BindValue>(count * positions.length);
      fill(parameters, rows, positions, start, start + count);
      try {
        written += statement.run(parameters).changes;
      } catch (error) {
        this.blame(s, rows, positions, start, start + count, failure);
        throw error;
      }
    }
    return written;
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }

  /** Runs rows `from` to `to` one at a time, to throw, naming the row, at the first that fails. */
  private blame(s: UpsertStatements, rows: readonly (readonly Cell[])[], positions: readonly number[], from: number, to: number, failure: UpsertFailure): void {
    const one = this.statement(s.sql(1));
    const parameters = new Array<BindValue>(positions.length);
    for (let r = from; r < to; r++) {
      fill(parameters, rows, positions, r, r + 1);
      try {
        one.run(parameters);
      } catch (error) {
        throw failure(r, error as Error);
      }
    }
  }

  private bindable(length: number): BindValue[] {
    if (this.parameters.length !== length) this.parameters = new Array<BindValue>(length);
    return this.parameters;
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** The cells at `positions` of rows `from` to `to`, row after row, as SQLite binds them (booleans as 1 and 0, undefined as NULL). */
function fill(parameters: BindValue[], rows: readonly (readonly Cell[])[], positions: readonly number[], from: number, to: number): void {
  const width = positions.length;
  let k = 0;
  for (let r = from; r < to; r++) {
    const row = rows[r] as readonly Cell[];
    for (let c = 0; c < width; c++) {
      const cell = row[positions[c] as number];
      parameters[k++] = typeof cell === 'string' ? cell : typeof cell === 'boolean' ? (cell ? 1 : 0) : (cell ?? null);
    }
  }
}
