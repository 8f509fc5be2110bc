import type { Condition, PartialKey, SqlValue, TableSpec } from '../../core/tables.js';
import { StoreSchemaError } from '../store.js';
import { quoteIdent } from './quote.js';

/**
 * A WHERE clause compiled from a partial key or a filter: `shape` is identical for filters that
 * can share one prepared statement, `values` are what to bind, in placeholder order.
 */
export interface CompiledWhere {
  readonly shape: string;
  readonly sql: (param: (index: number) => string, firstIndex?: number) => string;
  readonly values: readonly SqlValue[];
}

/**
 * The key's tests on its columns, in table order so that `{a, b}` and `{b, a}` share a statement.
 * A null value matches NULL (`IS NULL`), which plain `= NULL` never would; `{ not: v }` is `<> v`
 * (which no NULL passes) and `{ not: null }` is `IS NOT NULL`. An empty key matches every row.
 * `undefined` is refused: taken as a wildcard it would widen a delete silently.
 */
export interface CompiledKey extends CompiledWhere {
  /** The key's columns in table order; only `=` and `<>` tests bind a value. */
  readonly columns: readonly { readonly name: string; readonly test: KeyTest }[];
}

export type KeyTest = '=' | '<>' | 'IS NULL' | 'IS NOT NULL';

export function isBound(test: KeyTest): boolean {
  return test === '=' || test === '<>';
}

export function compileKey(spec: TableSpec, key: PartialKey, what: string): CompiledKey {
  const names = Object.keys(key);
  const columns: { name: string; test: KeyTest }[] = [];
  const values: SqlValue[] = [];
  for (const column of spec.columns) {
    if (!(column.name in key)) continue;
    const match = key[column.name];
    if (match === undefined) throw new StoreSchemaError(`table ${spec.name}: ${what} key gives column ${column.name} as undefined`);
    const negated = typeof match === 'object' && match !== null;
    const value = negated ? match.not : match;
    if (value === undefined) throw new StoreSchemaError(`table ${spec.name}: ${what} key gives column ${column.name} as { not: undefined }`);
    const test: KeyTest = value === null ? (negated ? 'IS NOT NULL' : 'IS NULL') : negated ? '<>' : '=';
    columns.push({ name: column.name, test });
    if (value !== null) values.push(value);
  }
  if (columns.length !== names.length) {
    const unknown = names.filter((name) => !spec.columns.some((column) => column.name === name));
    throw new StoreSchemaError(`table ${spec.name}: ${what} key names column ${JSON.stringify(unknown[0])}, which the table does not have`);
  }
  return {
    shape: columns.map((column) => `${column.name} ${column.test}`).join('\u0000'),
    columns,
    values,
    sql: (param, firstIndex = 0) => {
      let index = firstIndex;
      return columns
        .map((column) => `${quoteIdent(column.name)} ${column.test}${isBound(column.test) ? ` ${param(index++)}` : ''}`)
        .join(' AND ');
    },
  };
}

const COMPARISONS = new Set(['=', '<>', '<', '<=', '>', '>=']);

/** All conditions must hold. `=`/`<>` against null mean IS NULL / IS NOT NULL, as a caller would expect. */
export function compileConditions(spec: TableSpec, conditions: readonly Condition[], what: string): CompiledWhere {
  const parts: { column: string; sql: string; bound: boolean }[] = [];
  const values: SqlValue[] = [];
  for (const condition of conditions) {
    if (!spec.columns.some((column) => column.name === condition.column)) {
      throw new StoreSchemaError(`table ${spec.name}: ${what} filters on column ${JSON.stringify(condition.column)}, which the table does not have`);
    }
    if (!('value' in condition)) {
      if (condition.op !== 'is null' && condition.op !== 'is not null') {
        throw new StoreSchemaError(`table ${spec.name}: ${what} uses comparison ${JSON.stringify(condition.op)} without a value`);
      }
      parts.push({ column: condition.column, sql: condition.op === 'is null' ? 'IS NULL' : 'IS NOT NULL', bound: false });
      continue;
    }
    if (!COMPARISONS.has(condition.op)) {
      throw new StoreSchemaError(`table ${spec.name}: ${what} uses unknown comparison ${JSON.stringify(condition.op)}`);
    }
    if (condition.value === null) {
      if (condition.op !== '=' && condition.op !== '<>') {
        throw new StoreSchemaError(`table ${spec.name}: ${what} compares column ${condition.column} with null using ${condition.op}`);
      }
      parts.push({ column: condition.column, sql: condition.op === '=' ? 'IS NULL' : 'IS NOT NULL', bound: false });
    } else {
      parts.push({ column: condition.column, sql: condition.op, bound: true });
      values.push(condition.value);
    }
  }
  return {
    shape: parts.map((part) => `${part.column} ${part.sql}${part.bound ? ' ?' : ''}`).join('\u0000'),
    values,
    sql: (param, firstIndex = 0) => {
      let index = firstIndex;
      return parts.map((part) => `${quoteIdent(part.column)} ${part.sql}${part.bound ? ` ${param(index++)}` : ''}`).join(' AND ');
    },
  };
}
