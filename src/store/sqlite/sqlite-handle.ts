import Database from 'better-sqlite3';
import type { Cell } from '../../core/tables.js';
import { flatCells } from './packed-cells.js';

/** A value better-sqlite3 binds (booleans are turned into 1 and 0 before). */
export type BindValue = string | number | bigint | null | Uint8Array;

export type SqliteRow = Record<string, unknown>;

/**
 * The statements of one bulk upsert: `many` binds `perStatement` rows of `width` cells at once,
 * `one` binds a single row (the remainder, and naming the row a failed statement refused).
 */
export interface UpsertStatements {
  readonly many: string | undefined;
  readonly one: string;
  readonly perStatement: number;
  readonly width: number;
}

/** Turns the row a bulk upsert refused (its index among the batch's rows) into the error to throw. */
export type UpsertFailure = (row: number, cause: Error) => Error;

/**
 * One better-sqlite3 connection as the SQLite engine uses it, addressed by SQL text (statements are
 * prepared once and kept). Either in this thread (LocalSqliteHandle), or on the writer thread
 * (sqlite-writer-thread.ts), where the same calls run synchronously from here, and bulk upserts are
 * handed over without waiting, so that SQLite's B-tree work overlaps the thread that produces rows.
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
   * Upserts the cells at `positions` of each row. Returns the rows
   * written; or undefined when `counted` is true and the write was handed to the writer thread:
   * the caller knows the count (an upsert that always updates writes every row), and a failure
   * is thrown, through `failure`, by the next call on this handle (at the latest the COMMIT).
   */
  upsert(statements: UpsertStatements, rows: readonly (readonly Cell[])[], positions: readonly number[], counted: boolean, failure: UpsertFailure): number | undefined;
  close(): void;
}

/** Distinct statement texts kept prepared; shapes are few in practice, this only bounds a pathological caller. */
const MAX_CACHED_STATEMENTS = 1000;

/** better-sqlite3 in this thread. */
export class LocalSqliteHandle implements SqliteHandle {
  private readonly statements = new Map<string, Database.Statement>();

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

  upsert(statements: UpsertStatements, rows: readonly (readonly Cell[])[], positions: readonly number[], _counted: boolean, failure: UpsertFailure): number {
    const outcome = this.runUpsert(statements, flatCells(rows, positions), rows.length);
    if (outcome.error !== undefined) throw outcome.row === undefined ? outcome.error : failure(outcome.row, outcome.error);
    return outcome.written;
  }

  /** The bulk upsert, reporting a failure rather than throwing it. */
  runUpsert(statements: UpsertStatements, cells: readonly BindValue[], rows: number): UpsertOutcome {
    return runUpsert((sql) => this.statement(sql), statements, cells, rows);
  }

  close(): void {
    this.statements.clear();
    this.db.close();
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

/** What a bulk upsert did: the rows written, or the error and (when one row can be blamed) which row. */
export interface UpsertOutcome {
  readonly written: number;
  readonly error?: Error;
  readonly row?: number;
}

/**
 * The bulk upsert loop, wherever the connection lives: full statements of `perStatement` rows,
 * then the rest one row at a time. A statement that fails left no trace; its rows are replayed
 * one by one to find the row to blame (the transaction is rolled back after anyway).
 */
export function runUpsert(statement: (sql: string) => Database.Statement, s: UpsertStatements, cells: readonly BindValue[], rows: number): UpsertOutcome {
  const { width, perStatement } = s;
  let written = 0;
  let start = 0;
  if (s.many !== undefined && rows >= perStatement) {
    const many = statement(s.many);
    const size = perStatement * width;
    for (; start + perStatement <= rows; start += perStatement) {
      const from = start * width;
      try {
        written += many.run(cells.slice(from, from + size)).changes;
      } catch (error) {
        const blamed = runRows(statement(s.one), cells, width, start, start + perStatement);
        return { written, error: blamed.error ?? (error as Error), ...(blamed.row === undefined ? {} : { row: blamed.row }) };
      }
    }
  }
  const rest = runRows(statement(s.one), cells, width, start, rows);
  return rest.error === undefined ? { written: written + rest.written } : { written, error: rest.error, ...(rest.row === undefined ? {} : { row: rest.row }) };
}

function runRows(one: Database.Statement, cells: readonly BindValue[], width: number, from: number, to: number): UpsertOutcome {
  let written = 0;
  for (let r = from; r < to; r++) {
    try {
      written += one.run(cells.slice(r * width, (r + 1) * width)).changes;
    } catch (error) {
      return { written, error: error as Error, row: r };
    }
  }
  return { written };
}
