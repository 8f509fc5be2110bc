import Database from 'better-sqlite3';
import type { Cell } from '../../core/tables.js';

/** A value better-sqlite3 binds (booleans are turned into 1 and 0 before). */
export type BindValue = string | number | bigint | null | Uint8Array;

export type SqliteRow = Record<string, unknown>;

/**
 * The statements of one bulk upsert: `many` upserts `perStatement` rows of `width` cells, `rest(n)`
 * the n < perStatement rows left at the end, `one` a single row (to find the row a failed statement
 * refused). Plain texts, so that they can cross to the writer thread.
 */
export interface UpsertStatements {
  readonly many: string;
  readonly rest: (rows: number) => string;
  readonly one: string;
  readonly perStatement: number;
  readonly width: number;
}

/** Turns the row a bulk upsert refused (its index among the batch's rows, the cells it bound) into the error to throw. */
export type UpsertFailure = (row: number, cells: readonly BindValue[], cause: Error) => Error;

/**
 * One better-sqlite3 connection as the SQLite engine uses it, addressed by SQL text: in this thread
 * (LocalSqliteHandle, the reading connection), or on a thread of its own (SqliteWriterThread, the
 * writing connection), called synchronously either way.
 */
export interface SqliteHandle {
  exec(sql: string): void;
  /** Runs a statement; returns the rows it changed. */
  run(sql: string, params?: readonly BindValue[]): number;
  get(sql: string, params?: readonly BindValue[]): SqliteRow | undefined;
  /** `safeIntegers`: integers as bigint (readCell turns those that fit into numbers). */
  all(sql: string, params?: readonly BindValue[], safeIntegers?: boolean): SqliteRow[];
  /** As better-sqlite3's: the rows of a PRAGMA, or its first value with `simple`. */
  pragma(source: string, options?: { readonly simple?: boolean }): unknown;
  readonly inTransaction: boolean;
  /**
   * Upserts the cells at `positions` of each row; returns the rows written. `counted`: the caller
   * knows that every row is written (no guard, no DO NOTHING), so the count needs no answer from
   * SQLite: a writer thread then returns at once, and a refused row fails, through `failure`, the
   * next call on this handle (at the latest the COMMIT).
   */
  upsert(s: UpsertStatements, rows: readonly (readonly Cell[])[], positions: readonly number[], counted: boolean, failure: UpsertFailure): number;
  close(): void;
}

/**
 * The writing connection as the store's session and instance lock hold it: in this thread until
 * the store's writer thread has started and takes over (SqliteDriver), the same calls either way.
 */
export class MovableHandle implements SqliteHandle {
  constructor(private current: SqliteHandle) {}

  private moved = false;

  /** From now on `next` (the writer thread) runs the calls; the connection used so far is closed. */
  moveTo(next: SqliteHandle): void {
    const previous = this.current;
    this.current = next;
    this.moved = true;
    previous.close();
  }

  get onThread(): boolean {
    return this.moved;
  }

  exec(sql: string): void {
    this.current.exec(sql);
  }

  run(sql: string, params?: readonly BindValue[]): number {
    return this.current.run(sql, params);
  }

  get(sql: string, params?: readonly BindValue[]): SqliteRow | undefined {
    return this.current.get(sql, params);
  }

  all(sql: string, params?: readonly BindValue[], safeIntegers?: boolean): SqliteRow[] {
    return this.current.all(sql, params, safeIntegers);
  }

  pragma(source: string, options?: { readonly simple?: boolean }): unknown {
    return this.current.pragma(source, options);
  }

  get inTransaction(): boolean {
    return this.current.inTransaction;
  }

  upsert(s: UpsertStatements, rows: readonly (readonly Cell[])[], positions: readonly number[], counted: boolean, failure: UpsertFailure): number {
    return this.current.upsert(s, rows, positions, counted, failure);
  }

  close(): void {
    this.current.close();
  }
}

/** Distinct statement texts kept prepared; shapes are few in practice, this only bounds a pathological caller. */
const MAX_CACHED_STATEMENTS = 1000;

/** A better-sqlite3 connection in this thread. */
export class LocalSqliteHandle implements SqliteHandle {
  private readonly statements = new Map<string, Database.Statement>();
  /** The parameters of one bulk statement, filled again for each: binding copies them, so one array serves. */
  private parameters: BindValue[] = [];

  constructor(readonly db: Database.Database) {}

  static open(path: string, options: Database.Options): LocalSqliteHandle {
    return new LocalSqliteHandle(new Database(path, options));
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  run(sql: string, params: readonly BindValue[] = []): number {
    return this.statement(sql).run(params).changes;
  }

  get(sql: string, params: readonly BindValue[] = []): SqliteRow | undefined {
    return this.statement(sql).safeIntegers(false).get(params) as SqliteRow | undefined;
  }

  all(sql: string, params: readonly BindValue[] = [], safeIntegers = false): SqliteRow[] {
    return this.statement(sql).safeIntegers(safeIntegers).all(params) as SqliteRow[];
  }

  pragma(source: string, options?: { readonly simple?: boolean }): unknown {
    return this.db.pragma(source, { simple: options?.simple ?? false });
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  /**
   * Full statements of `perStatement` rows, then one for the rest. A statement that fails left no
   * trace; its rows are replayed one by one to find the row to blame (the transaction is rolled
   * back after anyway).
   */
  upsert(s: UpsertStatements, rows: readonly (readonly Cell[])[], positions: readonly number[], _counted: boolean, failure: UpsertFailure): number {
    const { perStatement } = s;
    const width = positions.length;
    const full = rows.length >= perStatement ? this.statement(s.many) : undefined;
    let written = 0;
    for (let start = 0; start < rows.length; start += perStatement) {
      const count = Math.min(perStatement, rows.length - start);
      const statement = count === perStatement && full !== undefined ? full : this.statement(s.rest(count));
      const parameters = count === perStatement ? this.bindable(count * width) : new Array<BindValue>(count * width);
      fillFromRows(parameters, rows, positions, start, start + count);
      try {
        // Spread: better-sqlite3 reads arguments faster than an array's elements.
        written += statement.run(...parameters).changes;
      } catch (error) {
        const one = this.statement(s.one);
        const single = new Array<BindValue>(width);
        for (let r = start; r < start + count; r++) {
          fillFromRows(single, rows, positions, r, r + 1);
          try {
            one.run(single);
          } catch (refused) {
            throw failure(r, single, refused as Error);
          }
        }
        throw error;
      }
    }
    return written;
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }

  /** The statement for `sql`, prepared once. */
  statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private bindable(length: number): BindValue[] {
    if (this.parameters.length !== length) this.parameters = new Array<BindValue>(length);
    return this.parameters;
  }
}

/** The cells at `positions` of rows `from` to `to`, row after row, as SQLite binds them (booleans as 1 and 0, undefined as NULL). */
function fillFromRows(parameters: BindValue[], rows: readonly (readonly Cell[])[], positions: readonly number[], from: number, to: number): void {
  const width = positions.length;
  let k = 0;
  for (let r = from; r < to; r++) {
    const row = rows[r] as readonly Cell[];
    for (let c = 0; c < width; c++) parameters[k++] = bindValue(row[positions[c] as number]);
  }
}

export function bindValue(cell: Cell | undefined): BindValue {
  return typeof cell === 'string' ? cell : typeof cell === 'boolean' ? (cell ? 1 : 0) : (cell ?? null);
}
