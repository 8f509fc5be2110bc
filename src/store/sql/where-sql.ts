import type { Condition, PartialKey, SqlValue, TableSpec } from '../../core/tables.js';
import { StoreSchemaError } from '../store.js';
import type { Bound, KeyColumn, KeySet, SqlDialect, Target } from './engine.js';
import { columnOf } from './table-spec.js';

export type KeyTest = '=' | '<>' | 'IS NULL' | 'IS NOT NULL';

export function isBound(test: KeyTest): boolean {
  return test === '=' || test === '<>';
}

/**
 * A partial key, validated: its tests on its columns in table order (so that `{a, b}` and `{b, a}`
 * share a statement) and the values its `=`/`<>` tests bind. A null value matches NULL (`IS
 * NULL`), which plain `= NULL` never would; `{ not: v }` is `<> v` (which no NULL passes) and
 * `{ not: null }` is `IS NOT NULL`. An empty key matches every row. `undefined` is refused: taken
 * as a wildcard it would widen a delete silently.
 */
interface CompiledKey {
  /** Identical for keys that can share one statement. */
  readonly shape: string;
  readonly columns: readonly KeyColumn[];
  readonly values: readonly SqlValue[];
}

function compileKey(spec: TableSpec, key: PartialKey, what: string): CompiledKey {
  const names = Object.keys(key);
  const columns: KeyColumn[] = [];
  const values: SqlValue[] = [];
  for (const column of spec.columns) {
    if (!(column.name in key)) continue;
    const match = key[column.name];
    if (match === undefined) throw new StoreSchemaError(`table ${spec.name}: ${what} key gives column ${column.name} as undefined`);
    const negated = typeof match === 'object' && match !== null;
    const value = negated ? match.not : match;
    if (value === undefined) throw new StoreSchemaError(`table ${spec.name}: ${what} key gives column ${column.name} as { not: undefined }`);
    const test: KeyTest = value === null ? (negated ? 'IS NOT NULL' : 'IS NULL') : negated ? '<>' : '=';
    columns.push({ name: column.name, type: column.type, test });
    if (value !== null) values.push(value);
  }
  if (columns.length !== names.length) {
    const unknown = names.filter((name) => !spec.columns.some((column) => column.name === name));
    throw new StoreSchemaError(`table ${spec.name}: ${what} key names column ${JSON.stringify(unknown[0])}, which the table does not have`);
  }
  return { shape: columns.map((column) => `${column.name} ${column.test}`).join('\u0000'), columns, values };
}

/**
 * The keys of a deleteWhere, setNull or prune, validated and grouped by shape: the keys of a set
 * can share one set-based statement. Grouping reorders keys, which is harmless: the rows an
 * operation writes are the union of what its keys match.
 */
export function keySets(target: Target, keys: readonly PartialKey[], what: string, allNull: readonly string[] = []): KeySet[] {
  const sets = new Map<string, { columns: readonly KeyColumn[]; keys: (readonly SqlValue[])[] }>();
  for (const key of keys) {
    const compiled = compileKey(target.spec, key, what);
    const set = sets.get(compiled.shape);
    if (set) set.keys.push(compiled.values);
    else sets.set(compiled.shape, { columns: compiled.columns, keys: [compiled.values] });
  }
  return [...sets.values()].map((set) => ({ target, columns: set.columns, keys: set.keys, allNull }));
}

/**
 * The conditions that match one key of a set (and its all-NULL columns), for an engine that
 * matches one key per statement: `"a" = ? AND "b" IS NULL`, binding the key's values in order.
 */
export function keyConditions(dialect: SqlDialect, set: KeySet): string[] {
  let index = 0;
  return [
    ...set.columns.map((key) => `${dialect.quote(key.name)} ${key.test}${isBound(key.test) ? ` ${dialect.param(index++)}` : ''}`),
    ...set.allNull.map((name) => `${dialect.quote(name)} IS NULL`),
  ];
}

/** ` WHERE a AND b`, or nothing when there is no condition. */
export function whereClause(conditions: readonly string[]): string {
  return conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`;
}

/** A filter compiled for one statement: its SQL from a given placeholder on, and the values to bind in order. */
export interface CompiledWhere {
  readonly conditions: (dialect: SqlDialect, firstIndex: number) => string[];
  readonly bound: readonly Bound[];
}

const COMPARISONS = new Set(['=', '<>', '<', '<=', '>', '>=']);

/** All conditions must hold. `=`/`<>` against null mean IS NULL / IS NOT NULL, as a caller would expect. */
export function compileConditions(spec: TableSpec, conditions: readonly Condition[], what: string): CompiledWhere {
  const parts: { column: string; sql: string; bound: boolean }[] = [];
  const bound: Bound[] = [];
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
      bound.push({ value: condition.value, type: columnOf(spec, condition.column, what).type });
    }
  }
  return {
    bound,
    conditions: (dialect, firstIndex) => {
      let index = firstIndex;
      return parts.map((part) => `${dialect.quote(part.column)} ${part.sql}${part.bound ? ` ${dialect.param(index++)}` : ''}`);
    },
  };
}
