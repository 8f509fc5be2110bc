import type { ApplyCounts, ApplyStagedOp, ChangeOp, DeleteWhereOp, PruneOp, SetNullOp, UpdateWhereOp, UpsertOp } from '../../core/ops.js';
import type { Cell } from '../../core/tables.js';
import { StoreSchemaError } from '../store.js';
import type { Bound, EngineSession, SqlDialect, Target } from './engine.js';
import type { SqlCatalog } from './sql-catalog.js';
import { columnOf, isNullableColumn } from './table-spec.js';
import { groupByOmitted } from './upsert-groups.js';
import { compileConditions, keySets, whereClause } from './where-sql.js';

/**
 * Applies change operations in order on one transaction, for every engine: each operation is
 * validated here (table known, columns exist, key complete, values allowed) before the engine's
 * session writes it with its own SQL. Operations are never reordered; the first bad one throws
 * and the transaction rolls back. `assertOpen` runs before each operation: one applied after its
 * transaction ended would run outside any transaction. `afterEach` learns of each operation once
 * applied (the outbox recorder).
 */
export async function applyChanges(
  session: EngineSession,
  catalog: SqlCatalog,
  ops: readonly ChangeOp[],
  assertOpen: () => void,
  afterEach?: (op: ChangeOp) => Promise<void>,
): Promise<ApplyCounts> {
  const counts: ApplyCounts = { upserted: 0, deleted: 0, updated: 0 };
  for (const op of ops) {
    assertOpen();
    const applied = await applyOne(session, catalog, op);
    await afterEach?.(op);
    counts.upserted += applied.upserted;
    counts.deleted += applied.deleted;
    counts.updated += applied.updated;
  }
  return counts;
}

const NONE: ApplyCounts = { upserted: 0, deleted: 0, updated: 0 };

async function applyOne(session: EngineSession, catalog: SqlCatalog, op: ChangeOp): Promise<ApplyCounts> {
  switch (op.op) {
    case 'ensureTable':
      await catalog.ensureTable(op.spec);
      return NONE;
    case 'replaceTable':
      await catalog.digests.forget(op.spec.name, op.op);
      await catalog.replaceTable(op.spec);
      return NONE;
    case 'ensureView':
      await catalog.ensureView(op.spec);
      return NONE;
    case 'beginStaging':
      await catalog.staging.begin(await catalog.target(op.table), op.columns);
      return NONE;
    case 'stageRows':
      await catalog.staging.stage(op.table, op.rows);
      return NONE;
    case 'beginSnapshot':
      await catalog.digests.begin(await catalog.target(op.table), op);
      return NONE;
    case 'snapshotRows':
      return { ...NONE, upserted: await catalog.digests.rows(await catalog.target(op.table), op) };
    case 'applySnapshot':
      return catalog.digests.apply(await catalog.target(op.table), op);
    case 'upsert':
    case 'deleteWhere':
    case 'setNull':
    case 'prune':
    case 'updateWhere':
    case 'applyStaged': {
      // Every other operation writes the table: the digests a snapshot kept of it would lie.
      const target = await catalog.target(op.table);
      await catalog.digests.forget(target.spec.name, op.op);
      return applyWrite(session, catalog, target, op);
    }
  }
  // Only a caller outside the type system (plain JavaScript, a parsed file) gets here.
  throw new Error(`unknown change operation ${JSON.stringify((op as { op: unknown }).op)}`);
}

async function applyWrite(
  session: EngineSession,
  catalog: SqlCatalog,
  target: Target,
  op: UpsertOp | DeleteWhereOp | SetNullOp | PruneOp | UpdateWhereOp | ApplyStagedOp,
): Promise<ApplyCounts> {
  switch (op.op) {
    case 'upsert':
      return { ...NONE, upserted: await upsert(session, target, op) };
    case 'deleteWhere':
      return { ...NONE, deleted: await deleteWhere(session, target, op) };
    case 'setNull':
      return { ...NONE, upserted: await setNull(session, target, op) };
    case 'prune':
      return { ...NONE, deleted: await prune(session, target, op) };
    case 'updateWhere':
      return { ...NONE, updated: await updateWhere(session, catalog.dialect, target, op) };
    case 'applyStaged':
      return catalog.staging.apply(target, op);
  }
}

/** Upserts rows by key, in groups of rows that give the same cells (an omitted cell keeps the stored value). */
export async function upsert(session: EngineSession, target: Target, op: Omit<UpsertOp, 'op' | 'table'>, append = false): Promise<number> {
  const { spec } = target;
  const seen = new Set<string>();
  const columns = op.columns.map((name) => {
    if (seen.has(name)) throw new StoreSchemaError(`table ${spec.name}: upsert lists column ${name} twice`);
    seen.add(name);
    return columnOf(spec, name, 'upsert');
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
  const rowIndex = (row: readonly Cell[]): number => op.rows.indexOf(row);
  let written = 0;
  for (const group of groupByOmitted(spec.name, op.columns, op.rows, keyPositions)) {
    written += await session.upsert({
      target,
      columns: group.present.map((position) => columns[position] as (typeof columns)[number]),
      positions: group.present,
      keyPositions,
      rows: group.rows,
      unlessStoredNewer: op.unlessStoredNewer,
      onlyChanged: op.onlyChanged === true,
      append,
      rowIndex,
    });
  }
  return written;
}

async function deleteWhere(session: EngineSession, target: Target, op: DeleteWhereOp): Promise<number> {
  let deleted = 0;
  for (const set of keySets(target, op.keys, 'deleteWhere')) deleted += await session.deleteKeys(set);
  return deleted;
}

async function setNull(session: EngineSession, target: Target, op: SetNullOp): Promise<number> {
  const { spec } = target;
  if (op.columns.length === 0) return 0;
  for (const name of op.columns) {
    const column = columnOf(spec, name, 'setNull');
    if (!isNullableColumn(spec, column)) throw new StoreSchemaError(`table ${spec.name}: setNull on column ${name}, which cannot be null`);
  }
  let changed = 0;
  for (const set of keySets(target, op.keys, 'setNull')) changed += await session.setNullKeys(set, op.columns);
  return changed;
}

async function prune(session: EngineSession, target: Target, op: PruneOp): Promise<number> {
  for (const name of op.valueColumns) columnOf(target.spec, name, 'prune');
  let deleted = 0;
  for (const set of keySets(target, op.keys, 'prune', op.valueColumns)) deleted += await session.deleteKeys(set);
  return deleted;
}

/**
 * One statement whatever the engine: `UPDATE t SET a = ?, b = ? WHERE ...`, every value bound.
 * `also` adds conditions the store itself wrote (never text from a source), e.g. "not staged".
 */
export async function updateWhere(
  session: EngineSession,
  dialect: SqlDialect,
  target: Target,
  op: Omit<UpdateWhereOp, 'op' | 'table'>,
  what = 'updateWhere',
  also: readonly string[] = [],
): Promise<number> {
  const { spec } = target;
  const names = Object.keys(op.set);
  if (names.length === 0) return 0;
  const bound: Bound[] = [];
  for (const name of names) {
    const column = columnOf(spec, name, what);
    const value = op.set[name];
    if (value === undefined) throw new StoreSchemaError(`table ${spec.name}: ${what} sets column ${name} to undefined`);
    if (value === null && !isNullableColumn(spec, column)) throw new StoreSchemaError(`table ${spec.name}: ${what} sets column ${name}, which cannot be null, to null`);
    bound.push({ value, type: column.type });
  }
  const where = compileConditions(spec, op.where, what);
  const set = names.map((name, index) => `${dialect.quote(name)} = ${dialect.param(index)}`).join(', ');
  return session.run(`UPDATE ${target.relation} SET ${set}${whereClause([...where.conditions(dialect, names.length), ...also])}`, [...bound, ...where.bound]);
}
