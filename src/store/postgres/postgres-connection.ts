import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ColumnType, SqlValue, TableSpec } from '../../core/tables.js';
import type { Bound, DriverRow, RelationKind, SqlConnection } from '../sql/engine.js';
import { quoteIdent } from '../sql/quote.js';

/**
 * Whether a transaction's connection still stands. The server may end it at any moment (a
 * restart, an administrator's pg_terminate_backend): the first sign of that, an 'error' event on
 * the idle client or a statement failing with it, is kept, and every later statement of the
 * transaction fails with that cause instead of pg's bare "not queryable".
 */
export class ConnectionLoss {
  private lost: Error | undefined;

  get error(): Error | undefined {
    return this.lost;
  }

  /** Records the loss (the first cause wins) and returns the error the transaction fails with. */
  record(cause: unknown): Error {
    this.lost ??= new Error('the connection to PostgreSQL was lost in the middle of the transaction (the server rolled it back)', { cause });
    return this.lost;
  }
}

/** Errors after which the session is gone: the server ended it (FATAL, PANIC) or the socket did. */
function endsSession(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { severity, code, message } = error as { severity?: unknown; code?: unknown; message?: unknown };
  if (severity === 'FATAL' || severity === 'PANIC') return true;
  if (typeof code === 'string' && (code.startsWith('08') || ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED'].includes(code))) return true;
  return typeof message === 'string' && /^Connection terminated|not queryable/.test(message);
}

/** A pg pool (reads outside transactions) or one checked-out client (a transaction), in one schema. */
export class PostgresConnection implements SqlConnection {
  constructor(
    protected readonly client: pg.Pool | pg.PoolClient,
    /** The schema's plain name. */
    protected readonly schema: string,
    /** A transaction's: whether its connection still stands. */
    protected readonly loss: ConnectionLoss | undefined = undefined,
  ) {}

  async run(sql: string, params: readonly Bound[] = []): Promise<number> {
    return (await this.query(sql, params.map((param) => toPg(param.value, param.type)))).rowCount ?? 0;
  }

  async all(sql: string, params: readonly Bound[] = []): Promise<DriverRow[]> {
    return (await this.query(sql, params.map((param) => toPg(param.value, param.type)))).rows as DriverRow[];
  }

  async relationKind(name: string): Promise<RelationKind | undefined> {
    const result = await this.query(
      'SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
      [this.schema, name],
    );
    const kind = (result.rows[0] as { relkind: string } | undefined)?.relkind;
    if (kind === 'v' || kind === 'm') return 'view';
    return kind === undefined ? undefined : 'table';
  }

  /** A spec reconstructed from PostgreSQL's catalog, for comparing with a table the store did not create. */
  async introspect(name: string): Promise<TableSpec> {
    const relation = `${quoteIdent(this.schema, 'schema name')}.${quoteIdent(name)}`;
    const columns = await this.query(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull
         FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [relation],
    );
    const key = await this.query(
      `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
      [relation],
    );
    const primaryKey = (key.rows as { name: string }[]).map((row) => row.name);
    const typeOf = (declared: string): ColumnType => {
      if (/^(bigint|integer|smallint)$/.test(declared)) return 'integer';
      if (/^(double precision|real|numeric)/.test(declared)) return 'real';
      if (declared === 'boolean') return 'boolean';
      if (declared === 'json' || declared === 'jsonb') return 'json';
      return 'text';
    };
    return {
      name,
      columns: (columns.rows as { name: string; type: string; notnull: boolean }[]).map((column) => ({
        name: column.name,
        type: typeOf(column.type),
        ...(column.notnull && !primaryKey.includes(column.name) ? { nullable: false } : {}),
      })),
      primaryKey,
    };
  }

  /** `COPY ... FROM STDIN` with this text, on a transaction's own client. */
  protected async copyIn(sql: string, text: string): Promise<void> {
    const lost = this.loss?.error;
    if (lost) throw lost;
    if (!('release' in this.client)) throw new Error('COPY runs on a transaction\'s connection, not on the pool');
    try {
      await pipeline(Readable.from([text]), this.client.query(copyFrom(sql)));
    } catch (error) {
      throw this.loss && endsSession(error) ? this.loss.record(error) : error;
    }
  }

  protected async query(sql: string, values: readonly unknown[]): Promise<pg.QueryResult> {
    const lost = this.loss?.error;
    if (lost) throw lost;
    try {
      return await this.client.query(sql, values as unknown[]);
    } catch (error) {
      throw this.loss && endsSession(error) ? this.loss.record(error) : error;
    }
  }
}

/** A value as PostgreSQL should receive it for a column of this type. */
export function toPg(value: SqlValue, type: ColumnType): unknown {
  if (value === null) return null;
  // Elsewhere than a boolean column a boolean is 1/0, as SQLite stores it.
  if (typeof value === 'boolean') return type === 'boolean' ? value : value ? 1 : 0;
  if (typeof value === 'bigint') return value.toString();
  return value;
}
