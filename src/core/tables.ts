/**
 * The store's vocabulary: tables, keys and rows. Nothing here knows about SDMX, RPDE or ODS;
 * sources describe what they need in these terms and the store turns it into SQL.
 */

/**
 * Column types every engine can represent faithfully.
 * - `text`: any string, kept byte for byte (SDMX values such as `NaN` or `#N/A` are text).
 * - `integer`: 64-bit; bind a `bigint` for values past 2^53.
 * - `real`: IEEE double.
 * - `json`: a JSON document (TEXT in SQLite, jsonb in PostgreSQL, NVARCHAR(MAX) in SQL Server).
 * - `boolean`: stored as 0/1 where the engine has no boolean.
 * - `timestamp`: an ISO 8601 instant with offset, stored as text so nothing is rounded or shifted.
 */
export type ColumnType = 'text' | 'integer' | 'real' | 'json' | 'boolean' | 'timestamp';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  /** Primary-key columns are never null; others are nullable unless this is false. */
  readonly nullable?: boolean;
}

export interface TableSpec {
  readonly name: string;
  readonly columns: readonly ColumnSpec[];
  /** Column names, in order. Every table has one: changes are applied by key. */
  readonly primaryKey: readonly string[];
  /** Extra non-unique indexes, each a list of column names. */
  readonly indexes?: readonly (readonly string[])[];
}

/**
 * A read-only convenience view: all columns of `from`, plus the non-key columns of each joined
 * table matched on the listed columns (LEFT JOIN ... USING). An empty `using` gives every row the
 * values of a single-row table (e.g. dataset-level attributes). Lets people query a normalised
 * mirror as one table without the source writing SQL.
 */
export interface ViewSpec {
  readonly name: string;
  readonly from: string;
  readonly leftJoins: readonly { readonly table: string; readonly using: readonly string[] }[];
}

/**
 * A cell value. `undefined` in an upsert row means "omitted: leave the stored value as it is"
 * (a new row gets NULL); `null` means "set to NULL".
 */
export type SqlValue = string | number | bigint | boolean | null;
export type Cell = SqlValue | undefined;

/**
 * How a key matches one column: a value matches that value (null matches NULL); `{ not: v }`
 * matches any non-NULL value other than v (`{ not: null }`: any non-NULL value). The negation lets
 * a source scope a delete to "attached to some value" where it stores "not attached" as a value.
 */
export type KeyMatch = SqlValue | { readonly not: SqlValue };

/** Matches on some columns (all must hold); a column not named is a wildcard. An empty key matches every row. */
export type PartialKey = Readonly<Record<string, KeyMatch>>;

/** One comparison in a filter; all comparisons of a filter must hold (AND). */
export type Condition =
  | { readonly column: string; readonly op: '=' | '<>' | '<' | '<=' | '>' | '>='; readonly value: SqlValue }
  | { readonly column: string; readonly op: 'is null' | 'is not null' };
