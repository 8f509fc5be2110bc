import type pg from 'pg';
import type { ApplyCounts, ChangeOp, DeleteWhereOp, PruneOp, SetNullOp, UpdateWhereOp, UpsertOp } from '../../core/ops.js';
import type { Cell, ColumnType, PartialKey, SqlValue, TableSpec } from '../../core/tables.js';
import { StoreSchemaError } from '../store.js';
import { quoteIdent } from '../sql/quote.js';
import { columnOf, isNullableColumn } from '../sql/table-spec.js';
import { uniqueKeyChunks } from '../sql/unique-key-chunks.js';
import { groupByOmitted } from '../sql/upsert-groups.js';
import { compileConditions, compileKey, isBound, type CompiledKey } from '../sql/where-sql.js';
import { POSTGRES_TYPES, type PostgresCatalog } from './postgres-catalog.js';

/**
 * Rows per INSERT ... SELECT FROM unnest(...): each column travels as one array parameter, so a
 * statement costs one round trip whatever its size; past a few thousand rows the arrays only
 * grow the memory held at once.
 */
const ROWS_PER_STATEMENT = 5000;

/** Turns ChangeOps into set-based SQL on the transaction's connection. */
export class PostgresChangeApplier {
  constructor(
    private readonly client: pg.PoolClient,
    private readonly catalog: PostgresCatalog,
  ) {}

  async apply(ops: readonly ChangeOp[]): Promise<ApplyCounts> {
    const counts: ApplyCounts = { upserted: 0, deleted: 0, updated: 0 };
    for (const op of ops) {
      switch (op.op) {
        case 'ensureTable':
          await this.catalog.ensureTable(op.spec);
          break;
        case 'replaceTable':
          await this.catalog.replaceTable(op.spec);
          break;
        case 'ensureView':
          await this.catalog.ensureView(op.spec);
          break;
        case 'upsert':
          counts.upserted += await this.upsert(op);
          break;
        case 'deleteWhere':
          counts.deleted += await this.deleteWhere(op);
          break;
        case 'setNull':
          counts.upserted += await this.setNull(op);
          break;
        case 'prune':
          counts.deleted += await this.prune(op);
          break;
        case 'updateWhere':
          counts.updated += await this.updateWhere(op);
          break;
        default:
          throw new Error(`unknown change operation ${JSON.stringify((op as { op: unknown }).op)}`);
      }
    }
    return counts;
  }

  private async upsert(op: UpsertOp): Promise<number> {
    const spec = await this.catalog.table(op.table);
    const seen = new Set<string>();
    const types = op.columns.map((name) => {
      if (seen.has(name)) throw new StoreSchemaError(`table ${spec.name}: upsert lists column ${name} twice`);
      seen.add(name);
      return columnOf(spec, name, 'upsert').type;
    });
    const keyPositions = spec.primaryKey.map((name) => {
      const position = op.columns.indexOf(name);
      if (position < 0) throw new StoreSchemaError(`table ${spec.name}: upsert columns lack key column ${name}`);
      return position;
    });
    if (op.unlessStoredNewer !== undefined) {
      const position = op.columns.indexOf(op.unlessStoredNewer);
      if (position < 0) throw new StoreSchemaError(`table ${spec.name}: upsert compares on ${op.unlessStoredNewer}, which is not among its columns`);
      op.rows.forEach((row, index) => {
        if (row[position] === undefined) throw new Error(`table ${spec.name}: upsert row ${index} omits ${op.unlessStoredNewer}, the column it is compared on`);
      });
    }
    let written = 0;
    for (const group of groupByOmitted(spec.name, op.columns, op.rows, keyPositions)) {
      const columns = group.present.map((position) => op.columns[position] as string);
      const sql = this.upsertSql(spec, columns, group.present.map((position) => types[position] as ColumnType), op.unlessStoredNewer);
      for (const chunk of uniqueKeyChunks(group.rows, keyPositions, ROWS_PER_STATEMENT)) {
        const arrays = group.present.map((position) => {
          const type = types[position] as ColumnType;
          return chunk.map((row) => toPg(row[position] as SqlValue, type));
        });
        try {
          written += (await this.client.query(sql, arrays)).rowCount ?? 0;
        } catch (error) {
          const first = op.rows.indexOf(chunk[0] as readonly Cell[]);
          throw new Error(
            `table ${spec.name}: upsert of ${chunk.length} rows from row ${first} was refused: ${describePgError(error)}`,
            { cause: error },
          );
        }
      }
    }
    return written;
  }

  /** INSERT ... SELECT FROM unnest(...) ON CONFLICT: omitted columns are simply not in the statement. */
  private upsertSql(spec: TableSpec, columns: readonly string[], types: readonly ColumnType[], unlessStoredNewer: string | undefined): string {
    const arrays = types.map((type, index) => `$${index + 1}::${POSTGRES_TYPES[type]}[]`).join(', ');
    const key = spec.primaryKey.map((name) => quoteIdent(name)).join(', ');
    const updates = columns.filter((name) => !spec.primaryKey.includes(name)).map((name) => `${quoteIdent(name)} = EXCLUDED.${quoteIdent(name)}`);
    let sql = `INSERT INTO ${this.catalog.physical(spec.name)} AS "cur" (${columns.map((name) => quoteIdent(name)).join(', ')}) SELECT * FROM unnest(${arrays}) ON CONFLICT (${key}) `;
    if (updates.length === 0) return `${sql}DO NOTHING`;
    sql += `DO UPDATE SET ${updates.join(', ')}`;
    if (unlessStoredNewer !== undefined) {
      const column = quoteIdent(unlessStoredNewer);
      sql += ` WHERE "cur".${column} IS NULL OR EXCLUDED.${column} >= "cur".${column}`;
    }
    return sql;
  }

  private async deleteWhere(op: DeleteWhereOp): Promise<number> {
    const spec = await this.catalog.table(op.table);
    let deleted = 0;
    for (const keys of groupKeysByShape(spec, op.keys, 'deleteWhere')) {
      const match = keyMatch(spec, keys, []);
      const using = match.using ? ` USING ${match.using}` : '';
      deleted += (await this.client.query(`DELETE FROM ${this.catalog.physical(spec.name)} AS "cur"${using}${match.where}`, match.values)).rowCount ?? 0;
    }
    return deleted;
  }

  private async setNull(op: SetNullOp): Promise<number> {
    const spec = await this.catalog.table(op.table);
    if (op.columns.length === 0) return 0;
    for (const name of op.columns) {
      const column = columnOf(spec, name, 'setNull');
      if (!isNullableColumn(spec, column)) throw new StoreSchemaError(`table ${spec.name}: setNull on column ${name}, which cannot be null`);
    }
    const set = op.columns.map((name) => `${quoteIdent(name)} = NULL`).join(', ');
    let changed = 0;
    for (const keys of groupKeysByShape(spec, op.keys, 'setNull')) {
      const match = keyMatch(spec, keys, []);
      const from = match.using ? ` FROM ${match.using}` : '';
      changed += (await this.client.query(`UPDATE ${this.catalog.physical(spec.name)} AS "cur" SET ${set}${from}${match.where}`, match.values)).rowCount ?? 0;
    }
    return changed;
  }

  private async prune(op: PruneOp): Promise<number> {
    const spec = await this.catalog.table(op.table);
    for (const name of op.valueColumns) columnOf(spec, name, 'prune');
    const allNull = op.valueColumns.map((name) => `"cur".${quoteIdent(name)} IS NULL`);
    let deleted = 0;
    for (const keys of groupKeysByShape(spec, op.keys, 'prune')) {
      const match = keyMatch(spec, keys, allNull);
      const using = match.using ? ` USING ${match.using}` : '';
      deleted += (await this.client.query(`DELETE FROM ${this.catalog.physical(spec.name)} AS "cur"${using}${match.where}`, match.values)).rowCount ?? 0;
    }
    return deleted;
  }

  private async updateWhere(op: UpdateWhereOp): Promise<number> {
    const spec = await this.catalog.table(op.table);
    const names = Object.keys(op.set);
    if (names.length === 0) return 0;
    const values: unknown[] = [];
    for (const name of names) {
      const column = columnOf(spec, name, 'updateWhere');
      const value = op.set[name];
      if (value === undefined) throw new StoreSchemaError(`table ${spec.name}: updateWhere sets column ${name} to undefined`);
      if (value === null && !isNullableColumn(spec, column)) throw new StoreSchemaError(`table ${spec.name}: updateWhere sets column ${name}, which cannot be null, to null`);
      values.push(toPg(value, column.type));
    }
    const where = compileConditions(spec, op.where, 'updateWhere');
    const conditionTypes = op.where.filter((condition) => 'value' in condition && condition.value !== null).map((condition) => columnOf(spec, condition.column, 'updateWhere').type);
    where.values.forEach((value, index) => values.push(toPg(value, conditionTypes[index] as ColumnType)));
    const set = names.map((name, index) => `${quoteIdent(name)} = $${index + 1}`).join(', ');
    const filter = where.sql((index) => `$${index + 1}`, names.length);
    return (await this.client.query(`UPDATE ${this.catalog.physical(spec.name)} SET ${set}${filter ? ` WHERE ${filter}` : ''}`, values)).rowCount ?? 0;
  }
}

/** Keys that can share one set-based statement (same columns, same tests). */
function groupKeysByShape(spec: TableSpec, keys: readonly PartialKey[], what: string): CompiledKey[][] {
  const groups = new Map<string, CompiledKey[]>();
  for (const key of keys) {
    const compiled = compileKey(spec, key, what);
    const group = groups.get(compiled.shape);
    if (group) group.push(compiled);
    else groups.set(compiled.shape, [compiled]);
  }
  return [...groups.values()];
}

/**
 * Matches "cur" against every key of one shape at once: the keys travel as typed arrays unnested
 * into a relation "k", so a thousand deletes are one statement and one round trip.
 */
function keyMatch(spec: TableSpec, keys: readonly CompiledKey[], extra: readonly string[]): { using: string | undefined; where: string; values: unknown[] } {
  const shape = (keys[0] as CompiledKey).columns;
  const bound = shape.filter((column) => isBound(column.test));
  const conditions = [
    ...shape.map((column, index) => `"cur".${quoteIdent(column.name)} ${column.test}${isBound(column.test) ? ` "k"."c${index}"` : ''}`),
    ...extra,
  ];
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
  if (bound.length === 0) return { using: undefined, where, values: [] };
  const types = bound.map((column) => columnOf(spec, column.name, 'key').type);
  const values = bound.map((_, position) => keys.map((key) => toPg(key.values[position] as SqlValue, types[position] as ColumnType)));
  const arrays = types.map((type, index) => `$${index + 1}::${POSTGRES_TYPES[type]}[]`).join(', ');
  const aliases = shape.map((column, index) => (isBound(column.test) ? `"c${index}"` : undefined)).filter((alias) => alias !== undefined);
  return { using: `unnest(${arrays}) AS "k"(${aliases.join(', ')})`, where, values };
}

/** A value as PostgreSQL should receive it for a column of this type. */
function toPg(value: SqlValue, type: ColumnType): unknown {
  if (value === null) return null;
  // Elsewhere than a boolean column a boolean is 1/0, as SQLite stores it.
  if (typeof value === 'boolean') return type === 'boolean' ? value : value ? 1 : 0;
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function describePgError(error: unknown): string {
  const pgError = error as { message?: string; detail?: string; column?: string };
  return [pgError.message ?? String(error), pgError.detail ? `(${pgError.detail})` : '', pgError.column ? `[column ${pgError.column}]` : ''].filter(Boolean).join(' ');
}
