import type Database from 'better-sqlite3';
import type { ApplyCounts, ChangeOp, DeleteWhereOp, PruneOp, SetNullOp, UpdateWhereOp, UpsertOp } from '../../core/ops.js';
import type { Cell, SqlValue, TableSpec } from '../../core/tables.js';
import { StoreSchemaError } from '../store.js';
import { quoteIdent } from '../sql/quote.js';
import { columnOf, isNullableColumn } from '../sql/table-spec.js';
import { groupByOmitted, type UpsertGroup } from '../sql/upsert-groups.js';
import { compileConditions, compileKey, type CompiledWhere } from '../sql/where-sql.js';
import type { SqliteCatalog } from './sqlite-catalog.js';

/**
 * Bound parameters per multi-row INSERT. Binding dominates the cost of an upsert in
 * better-sqlite3, and one statement carrying a few dozen rows halves the per-row overhead; past a
 * few hundred parameters the gain turns into loss (bench/store-upsert.ts).
 */
const PARAMETERS_PER_STATEMENT = 160;
/** Distinct statement texts kept prepared; shapes are few in practice, this only bounds a pathological caller. */
const MAX_CACHED_STATEMENTS = 1000;

/** Turns ChangeOps into SQL on the one connection, inside the transaction the store opened. */
export class SqliteChangeApplier {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly catalog: SqliteCatalog,
  ) {}

  apply(ops: readonly ChangeOp[]): ApplyCounts {
    const counts: ApplyCounts = { upserted: 0, deleted: 0, updated: 0 };
    for (const op of ops) {
      switch (op.op) {
        case 'ensureTable':
          this.catalog.ensureTable(op.spec);
          break;
        case 'replaceTable':
          this.catalog.replaceTable(op.spec);
          break;
        case 'ensureView':
          this.catalog.ensureView(op.spec);
          break;
        case 'upsert':
          counts.upserted += this.upsert(op);
          break;
        case 'deleteWhere':
          counts.deleted += this.deleteWhere(op);
          break;
        case 'setNull':
          counts.upserted += this.setNull(op);
          break;
        case 'prune':
          counts.deleted += this.prune(op);
          break;
        case 'updateWhere':
          counts.updated += this.updateWhere(op);
          break;
        default:
          throw new Error(`unknown change operation ${JSON.stringify((op as { op: unknown }).op)}`);
      }
    }
    return counts;
  }

  private upsert(op: UpsertOp): number {
    const spec = this.catalog.table(op.table);
    const seen = new Set<string>();
    for (const name of op.columns) {
      columnOf(spec, name, 'upsert');
      if (seen.has(name)) throw new StoreSchemaError(`table ${spec.name}: upsert lists column ${name} twice`);
      seen.add(name);
    }
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
      written += this.upsertGroup(spec, op, group);
    }
    return written;
  }

  private upsertGroup(spec: TableSpec, op: UpsertOp, group: UpsertGroup): number {
    const columns = group.present.map((position) => op.columns[position] as string);
    const width = columns.length;
    const perStatement = Math.max(1, Math.floor(PARAMETERS_PER_STATEMENT / width));
    const rows = group.rows;
    const present = group.present;
    let written = 0;
    let start = 0;
    if (rows.length >= perStatement) {
      const many = this.statement(upsertSql(spec, columns, perStatement, op.unlessStoredNewer));
      const params: Cell[] = new Array<Cell>(perStatement * width);
      for (; start + perStatement <= rows.length; start += perStatement) {
        let n = 0;
        for (let r = start; r < start + perStatement; r++) {
          const row = rows[r] as readonly Cell[];
          for (let c = 0; c < width; c++) {
            const cell = row[present[c] as number];
            params[n++] = typeof cell === 'boolean' ? (cell ? 1 : 0) : cell;
          }
        }
        try {
          written += many.run(params).changes;
        } catch (error) {
          // The failed statement left no trace; replay its rows one by one to name the bad one (this throws).
          this.upsertRows(spec, op, columns, present, rows, start, start + perStatement, error as Error);
          throw error;
        }
      }
    }
    written += this.upsertRows(spec, op, columns, present, rows, start, rows.length, undefined);
    return written;
  }

  private upsertRows(
    spec: TableSpec,
    op: UpsertOp,
    columns: readonly string[],
    present: readonly number[],
    rows: readonly (readonly Cell[])[],
    from: number,
    to: number,
    batchError: Error | undefined,
  ): number {
    if (from >= to) return 0;
    const one = this.statement(upsertSql(spec, columns, 1, op.unlessStoredNewer));
    const params: Cell[] = new Array<Cell>(columns.length);
    let written = 0;
    for (let r = from; r < to; r++) {
      const row = rows[r] as readonly Cell[];
      for (let c = 0; c < columns.length; c++) {
        const cell = row[present[c] as number];
        params[c] = typeof cell === 'boolean' ? (cell ? 1 : 0) : cell;
      }
      try {
        written += one.run(params).changes;
      } catch (error) {
        const key = spec.primaryKey.map((name) => `${name}=${JSON.stringify(String(row[op.columns.indexOf(name)]))}`).join(', ');
        throw new Error(`table ${spec.name}: upsert row ${op.rows.indexOf(row)} (${key}) was refused: ${(error as Error).message}`, { cause: error });
      }
    }
    if (batchError !== undefined) throw batchError;
    return written;
  }

  private deleteWhere(op: DeleteWhereOp): number {
    const spec = this.catalog.table(op.table);
    let deleted = 0;
    for (const key of op.keys) {
      const where = compileKey(spec, key, 'deleteWhere');
      deleted += this.run(`DELETE FROM ${quoteIdent(spec.name)}${whereSql(where)}`, where.values).changes;
    }
    return deleted;
  }

  private setNull(op: SetNullOp): number {
    const spec = this.catalog.table(op.table);
    if (op.columns.length === 0) return 0;
    for (const name of op.columns) {
      const column = columnOf(spec, name, 'setNull');
      if (!isNullableColumn(spec, column)) throw new StoreSchemaError(`table ${spec.name}: setNull on column ${name}, which cannot be null`);
    }
    const set = op.columns.map((name) => `${quoteIdent(name)} = NULL`).join(', ');
    let changed = 0;
    for (const key of op.keys) {
      const where = compileKey(spec, key, 'setNull');
      changed += this.run(`UPDATE ${quoteIdent(spec.name)} SET ${set}${whereSql(where)}`, where.values).changes;
    }
    return changed;
  }

  private prune(op: PruneOp): number {
    const spec = this.catalog.table(op.table);
    for (const name of op.valueColumns) columnOf(spec, name, 'prune');
    const allNull = op.valueColumns.map((name) => `${quoteIdent(name)} IS NULL`);
    let deleted = 0;
    for (const key of op.keys) {
      const where = compileKey(spec, key, 'prune');
      const clauses = [where.sql(() => '?'), ...allNull].filter((clause) => clause !== '');
      const sql = `DELETE FROM ${quoteIdent(spec.name)}${clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : ''}`;
      deleted += this.run(sql, where.values).changes;
    }
    return deleted;
  }

  private updateWhere(op: UpdateWhereOp): number {
    const spec = this.catalog.table(op.table);
    const names = Object.keys(op.set);
    if (names.length === 0) return 0;
    const values: SqlValue[] = [];
    for (const name of names) {
      const column = columnOf(spec, name, 'updateWhere');
      const value = op.set[name];
      if (value === undefined) throw new StoreSchemaError(`table ${spec.name}: updateWhere sets column ${name} to undefined`);
      if (value === null && !isNullableColumn(spec, column)) throw new StoreSchemaError(`table ${spec.name}: updateWhere sets column ${name}, which cannot be null, to null`);
      values.push(value);
    }
    const where = compileConditions(spec, op.where, 'updateWhere');
    const set = names.map((name) => `${quoteIdent(name)} = ?`).join(', ');
    return this.run(`UPDATE ${quoteIdent(spec.name)} SET ${set}${whereSql(where)}`, [...values, ...where.values]).changes;
  }

  private run(sql: string, values: readonly SqlValue[]): Database.RunResult {
    return this.statement(sql).run(values.map(bindable));
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

function whereSql(where: CompiledWhere): string {
  const sql = where.sql(() => '?');
  return sql === '' ? '' : ` WHERE ${sql}`;
}

function bindable(value: SqlValue): Exclude<SqlValue, boolean> {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

/**
 * INSERT ... ON CONFLICT DO UPDATE for the given columns only, so omitted cells keep their stored
 * value. "Newer wins" adds a guard on the stored row; a stored NULL stamp never blocks an update.
 * SQLite compares INTEGER with INTEGER numerically and TEXT with TEXT byte-wise, which is the
 * type-aware comparison the op asks for as long as each column holds one type.
 */
export function upsertSql(spec: TableSpec, columns: readonly string[], rowCount: number, unlessStoredNewer: string | undefined): string {
  const table = quoteIdent(spec.name);
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  const values = rowCount === 1 ? tuple : new Array<string>(rowCount).fill(tuple).join(', ');
  const key = spec.primaryKey.map((name) => quoteIdent(name)).join(', ');
  const updates = columns.filter((name) => !spec.primaryKey.includes(name)).map((name) => `${quoteIdent(name)} = excluded.${quoteIdent(name)}`);
  let sql = `INSERT INTO ${table} (${columns.map((name) => quoteIdent(name)).join(', ')}) VALUES ${values} ON CONFLICT (${key}) `;
  if (updates.length === 0) return `${sql}DO NOTHING`;
  sql += `DO UPDATE SET ${updates.join(', ')}`;
  if (unlessStoredNewer !== undefined) {
    const column = quoteIdent(unlessStoredNewer);
    sql += ` WHERE ${table}.${column} IS NULL OR excluded.${column} >= ${table}.${column}`;
  }
  return sql;
}
