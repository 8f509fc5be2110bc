import { createHash } from 'node:crypto';
import type { ColumnSpec, Condition, PartialKey, SqlValue, TableSpec } from '../../core/tables.js';
import {
  DeliveryShapeError,
  type DeliveredField,
  type DeliveryShape,
  type DeliveryTarget,
  type DifferenceQuery,
  type OutboxEntry,
  type OutboxScope,
  type OutboxSummary,
  type RecordDifference,
  type RecordRow,
  type TargetState,
} from '../delivery.js';
import { StoreSchemaError } from '../store.js';
import { upsert } from './change-applier.js';
import type { Bound, EngineSession, SqlConnection, SqlDialect, Target } from './engine.js';
import { internalTarget, readRow, writeRow } from './internal-rows.js';
import { DSS_DELIVERY_TARGETS, DSS_OUTBOX } from './internal-tables.js';
import { OutboxRecorder, parseScope } from './outbox-recorder.js';
import { asText, readCell } from './read-values.js';
import { relationColumns, type RelationColumns } from './relation-columns.js';
import { specFromJson, specToJson } from './table-spec.js';
import { keySets } from './where-sql.js';

/**
 * Delivery bookkeeping (store/delivery.ts) on every SQL engine. A target's delivered state is a
 * table of the store's own (`dss_delivered_*`, created on first use with the records' columns,
 * typed as the relation types them), so that what changed is found by a join in SQL: the records
 * within the outbox's scopes that differ from, or are missing in, what was delivered. Nothing is
 * loaded whole; each query returns at most a page of differences.
 */

/** Bound values per statement at most: SQL Server takes 2,100, and a scope binds one per key column. */
const MAX_PARAMS = 900;

/** Aliases in the comparison statements. */
const R = 'r';
const D = 'd';

/**
 * The delivered state's own column beside the records' columns: 1 on a row written before its
 * request went (markUncertain), NULL once the target acknowledged it. It is not part of the stored
 * spec, which describes the records (a table made before the column existed gets it added in
 * prepareDelivery, and its spec still compares equal).
 */
const UNCERTAIN: ColumnSpec = { name: 'dss_uncertain', type: 'integer' };

/** The delivered-state table as created: the records' columns, then UNCERTAIN. */
function withUncertain(spec: TableSpec): TableSpec {
  return { ...spec, columns: [...spec.columns, UNCERTAIN] };
}

/** The delivered-state table of a target: a reserved name (dss_*), unique per target. */
export function deliveredTableName(target: string): string {
  return `dss_delivered_${createHash('sha256').update(target).digest('hex').slice(0, 24)}`;
}

/** The columns of the delivered state and where each field is read from. */
interface Plan {
  readonly shape: DeliveryShape;
  readonly spec: TableSpec;
  /** Delivered column -> relation column. */
  readonly sourceOf: ReadonlyMap<string, string>;
  readonly relation: RelationColumns;
  readonly where: readonly Condition[];
}

async function plan(conn: SqlConnection, dialect: SqlDialect, target: DeliveryTarget): Promise<Plan> {
  const { records } = target;
  const relation = await relationColumns(conn, dialect, records.relation);
  if (!relation) throw new StoreSchemaError(`records of ${target.streamId}: ${records.relation} is not a table or view of the store yet`);
  const columnOf = (name: string, what: string): ColumnSpec => {
    const column = relation.columns.find((candidate) => candidate.name === name);
    if (!column) throw new StoreSchemaError(`records of ${target.streamId}: ${what} ${name} is not a column of ${records.relation}`);
    return column;
  };
  const key = records.key ?? relation.orderBy;
  if (key.length === 0) throw new StoreSchemaError(`records of ${target.streamId}: no key columns`);
  const keyColumns = key.map((name) => columnOf(name, 'key column'));
  const fields =
    records.fields ??
    relation.columns.filter((column) => !(records.omit ?? []).includes(column.name)).map((column) => ({ name: column.name, column: column.name }));
  const sourceOf = new Map<string, string>(keyColumns.map((column) => [column.name, column.name]));
  const delivered: DeliveredField[] = [];
  const columns: ColumnSpec[] = keyColumns.map((column) => ({ name: column.name, type: column.type, nullable: false }));
  for (const field of fields) {
    const column = columnOf(field.column, 'field column');
    const known = sourceOf.get(field.name);
    if (known !== undefined && known !== field.column) {
      throw new StoreSchemaError(`records of ${target.streamId}: field ${field.name} is read from ${field.column}, but ${field.name} is a key column`);
    }
    if (delivered.some((other) => other.name === field.name)) throw new StoreSchemaError(`records of ${target.streamId}: field ${field.name} appears twice`);
    delivered.push({ name: field.name, type: column.type, asText: 'asText' in field && field.asText === true });
    if (known === undefined) {
      sourceOf.set(field.name, field.column);
      columns.push({ name: field.name, type: column.type });
    }
  }
  const clash = columns.find((column) => column.name.toLowerCase() === UNCERTAIN.name);
  if (clash) throw new StoreSchemaError(`records of ${target.streamId}: ${clash.name} is reserved for the delivered state's own bookkeeping; deliver the column under another field name`);
  const spec: TableSpec = { name: deliveredTableName(target.id), columns, primaryKey: [...key] };
  return { shape: { key: [...key], fields: delivered }, spec, sourceOf, relation, where: records.where ?? [] };
}

function describeShapeChange(before: TableSpec, now: TableSpec): string {
  const show = (spec: TableSpec) => spec.columns.map((column) => `${column.name} ${column.type}`).join(', ');
  return `the records' columns changed since they were delivered (were: ${show(before)}; now: ${show(now)}); reset the stream to deliver them afresh`;
}

export async function prepareDelivery(session: EngineSession, dialect: SqlDialect, target: DeliveryTarget): Promise<DeliveryShape> {
  const planned = await plan(session, dialect, target);
  const row = await readRow(session, dialect, DSS_DELIVERY_TARGETS, target.id, true);
  const stored = row?.['spec'];
  if (stored !== null && stored !== undefined) {
    const before = specFromJson(asText(stored));
    if (specToJson(before) !== specToJson(planned.spec)) throw new DeliveryShapeError(describeShapeChange(before, planned.spec));
    // A table made by a version without uncertain rows: every row it holds was acknowledged.
    const existing = await session.introspect(planned.spec.name);
    if (!existing.columns.some((column) => column.name.toLowerCase() === UNCERTAIN.name)) await session.run(dialect.addColumnSql(planned.spec.name, UNCERTAIN));
    return planned.shape;
  }
  await session.run(`DROP TABLE IF EXISTS ${dialect.relation(planned.spec.name)}`);
  await session.run(dialect.createTableSql(withUncertain(planned.spec), planned.spec.name));
  await writeRow(session, dialect, DSS_DELIVERY_TARGETS, {
    target: target.id,
    stream_id: target.streamId,
    delivered_table: planned.spec.name,
    spec: specToJson(planned.spec),
  });
  return planned.shape;
}

export async function outboxEntries(conn: SqlConnection, dialect: SqlDialect, target: string, limit: number): Promise<OutboxEntry[]> {
  const q = (name: string) => dialect.quote(name);
  const first = dialect.firstRows(limit);
  const rows = await conn.all(
    `SELECT ${first.afterSelect}${q('seq')}, ${q('scope')}, ${q('created_at')} FROM ${dialect.relation(DSS_OUTBOX.name)} WHERE ${q('target')} = ${dialect.param(0)} ORDER BY ${q('seq')}${first.atEnd}`,
    [{ value: target, type: 'text' }],
  );
  return rows.map((row) => ({
    seq: Number(row['seq']),
    scope: parseScope(row['scope'] === null || row['scope'] === undefined ? null : asText(row['scope'])),
    createdAt: asText(row['created_at']),
  }));
}

/** Builds one statement's text and bound values, placeholders numbered in order. */
class Statement {
  readonly bound: Bound[] = [];
  constructor(private readonly dialect: SqlDialect) {}
  bind(value: SqlValue, column: ColumnSpec): string {
    this.bound.push({ value, type: column.type });
    return this.dialect.param(this.bound.length - 1);
  }
}

export async function differences(conn: SqlConnection, dialect: SqlDialect, target: DeliveryTarget, shape: DeliveryShape, query: DifferenceQuery): Promise<RecordDifference[]> {
  const planned = await plan(conn, dialect, target);
  if (JSON.stringify(planned.shape) !== JSON.stringify(shape)) throw new DeliveryShapeError(`the records of ${target.streamId} changed shape while being delivered`);
  const out: RecordDifference[] = [];
  const perScope = Math.max(1, shape.key.length);
  const exclusionParams = query.exclude.length * shape.key.length;
  const groupSize = Math.max(1, Math.floor((MAX_PARAMS - exclusionParams) / perScope));
  const scopes = query.scopes.some((scope) => scope === null) ? [null] : query.scopes;
  for (let start = 0; start < scopes.length && out.length < query.limit; start += groupSize) {
    const group = scopes.slice(start, start + groupSize);
    out.push(...(await differencesWithin(conn, dialect, planned, group, query, query.limit - out.length)));
  }
  return out;
}

async function differencesWithin(
  conn: SqlConnection,
  dialect: SqlDialect,
  planned: Plan,
  scopes: readonly OutboxScope[],
  query: DifferenceQuery,
  limit: number,
): Promise<RecordDifference[]> {
  const q = (name: string) => dialect.quote(name);
  const { spec, sourceOf, relation } = planned;
  // Placeholders are bound in the order they appear in the text (SQLite's `?` are positional):
  // each part binds its values when it is written, and parts are written in text order.
  const statement = new Statement(dialect);
  const typeOf = (name: string): ColumnSpec => spec.columns.find((column) => column.name === name) ?? { name, type: 'text' };
  /** The records, with the delivered state's column names. */
  const records = (): string => {
    const selected = spec.columns.map((column) => `${q(sourceOf.get(column.name) ?? column.name)} AS ${q(column.name)}`);
    const filter = planned.where.map((condition) => {
      const column = relation.columns.find((candidate) => candidate.name === condition.column);
      if (!column) throw new StoreSchemaError(`records: the filter names ${condition.column}, which ${relation.name} does not have`);
      if (!('value' in condition)) return `${q(condition.column)} ${condition.op === 'is null' ? 'IS NULL' : 'IS NOT NULL'}`;
      if (condition.value === null) return `${q(condition.column)} ${condition.op === '=' ? 'IS NULL' : 'IS NOT NULL'}`;
      if (!COMPARISONS.has(condition.op)) throw new StoreSchemaError(`records: unknown comparison ${condition.op}`);
      return `${q(condition.column)} ${condition.op} ${statement.bind(condition.value, column)}`;
    });
    return `(SELECT ${selected.join(', ')} FROM ${dialect.relation(relation.name)}${filter.length > 0 ? ` WHERE ${filter.join(' AND ')}` : ''})`;
  };
  const within = (alias: string): string[] => {
    const conditions: string[] = [];
    if (!scopes.includes(null)) {
      const alternatives = (scopes as PartialKey[]).map((scope) => {
        const tests = Object.entries(scope).map(([name, value]) => {
          if (!spec.primaryKey.includes(name)) throw new StoreSchemaError(`outbox scope names ${name}, which is not a key column of the records`);
          return value === null ? `${q(alias)}.${q(name)} IS NULL` : `${q(alias)}.${q(name)} = ${statement.bind(value as SqlValue, typeOf(name))}`;
        });
        return tests.length === 0 ? '1 = 1' : `(${tests.join(' AND ')})`;
      });
      conditions.push(`(${alternatives.join(' OR ')})`);
    }
    for (const excluded of query.exclude) {
      conditions.push(`NOT (${spec.primaryKey.map((name) => `${q(alias)}.${q(name)} = ${statement.bind(excluded[name] ?? null, typeOf(name))}`).join(' AND ')})`);
    }
    return conditions;
  };
  const delivered = dialect.relation(spec.name);
  const keyMatch = spec.primaryKey.map((name) => `${q(R)}.${q(name)} = ${q(D)}.${q(name)}`).join(' AND ');
  const first = dialect.firstRows(limit);
  const read = (alias: string, prefix: string) => spec.columns.map((column, index) => `${q(alias)}.${q(column.name)} AS ${q(`${prefix}${index}`)}`);
  const rowOf = (row: Record<string, unknown>, prefix: string): RecordRow =>
    Object.fromEntries(spec.columns.map((column, index) => [column.name, readCell(column.type, row[`${prefix}${index}`])]));
  if (query.which === 'changed') {
    const keyIndex = spec.columns.findIndex((column) => column.name === spec.primaryKey[0]);
    const values = spec.columns.filter((column) => !spec.primaryKey.includes(column.name));
    const valuesDiffer = [
      `${q(D)}.${q(spec.primaryKey[0] as string)} IS NULL`,
      ...values.map((column) => dialect.staging.distinct(`${q(R)}.${q(column.name)}`, `${q(D)}.${q(column.name)}`, column.type)),
    ].join(' OR ');
    // A row whose request was never acknowledged differs even with the same values: the target may
    // hold them, or not, or (after an older request) other values of the record.
    const differs = `${valuesDiffer} OR ${q(D)}.${q(UNCERTAIN.name)} IS NOT NULL`;
    const same = `CASE WHEN ${valuesDiffer} THEN 0 ELSE 1 END AS ${q('same')}`;
    const from = `${records()} ${q(R)} LEFT JOIN ${delivered} ${q(D)} ON ${keyMatch}`;
    const conditions = [...within(R), `(${differs})`];
    const rows = await conn.all(`SELECT ${first.afterSelect}${[...read(R, 'n'), ...read(D, 'o'), same].join(', ')} FROM ${from} WHERE ${conditions.join(' AND ')}${first.atEnd}`, statement.bound);
    return rows.map((row) => ({
      current: rowOf(row, 'n'),
      delivered: row[`o${keyIndex}`] === null || row[`o${keyIndex}`] === undefined ? undefined : rowOf(row, 'o'),
      sameValues: Number(row['same']) === 1,
    }));
  }
  const conditions = [...within(D)];
  conditions.push(`NOT EXISTS (SELECT 1 FROM ${records()} ${q(R)} WHERE ${keyMatch})`);
  const rows = await conn.all(`SELECT ${first.afterSelect}${read(D, 'o').join(', ')} FROM ${delivered} ${q(D)} WHERE ${conditions.join(' AND ')}${first.atEnd}`, statement.bound);
  return rows.map((row) => ({ current: undefined, delivered: rowOf(row, 'o') }));
}

const COMPARISONS = new Set(['=', '<>', '<', '<=', '>', '>=']);

/** The delivered-state table as the shared write primitives see it (UNCERTAIN included). */
function deliveredTarget(dialect: SqlDialect, spec: TableSpec): Target {
  return { spec: withUncertain(spec), relation: dialect.relation(spec.name) };
}

/** Writes whole records into the delivered state, each marked uncertain (1) or acknowledged (null). */
async function writeDelivered(session: EngineSession, dialect: SqlDialect, spec: TableSpec, rows: readonly RecordRow[], uncertain: 1 | null): Promise<void> {
  if (rows.length === 0) return;
  const columns = spec.columns.map((column) => column.name);
  await upsert(session, deliveredTarget(dialect, spec), { columns: [...columns, UNCERTAIN.name], rows: rows.map((row) => [...columns.map((name) => row[name] ?? null), uncertain]) });
}

/** What the delivered state is written with: the stored spec (the target must have been prepared). */
async function deliveredSpec(conn: SqlConnection, dialect: SqlDialect, target: DeliveryTarget): Promise<TableSpec> {
  const spec = await storedSpec(conn, dialect, target.id);
  if (!spec) throw new StoreSchemaError(`delivery target ${target.id} has no delivered state yet`);
  return spec;
}

export async function markUncertain(session: EngineSession, dialect: SqlDialect, target: DeliveryTarget, rows: readonly RecordRow[]): Promise<void> {
  await writeDelivered(session, dialect, await deliveredSpec(session, dialect, target), rows, 1);
}

async function storedSpec(conn: SqlConnection, dialect: SqlDialect, target: string): Promise<TableSpec | undefined> {
  const row = await readRow(conn, dialect, DSS_DELIVERY_TARGETS, target);
  const spec = row?.['spec'];
  return spec === null || spec === undefined ? undefined : specFromJson(asText(spec));
}

export async function markDelivered(
  session: EngineSession,
  dialect: SqlDialect,
  target: DeliveryTarget,
  change: { readonly written: readonly RecordRow[]; readonly removed: readonly RecordRow[] },
): Promise<void> {
  const spec = await deliveredSpec(session, dialect, target);
  if (change.removed.length > 0) {
    const keys = change.removed.map((row) => Object.fromEntries(spec.primaryKey.map((name) => [name, row[name] ?? null])));
    for (const set of keySets(deliveredTarget(dialect, spec), keys, 'markDelivered')) await session.deleteKeys(set);
  }
  await writeDelivered(session, dialect, spec, change.written, null);
  const count = change.written.length + change.removed.length;
  const q = (name: string) => dialect.quote(name);
  await session.run(
    `UPDATE ${dialect.relation(DSS_DELIVERY_TARGETS.name)} SET ${q('delivered')} = ${q('delivered')} + ${dialect.param(0)} WHERE ${q('target')} = ${dialect.param(1)}`,
    [
      { value: count, type: 'integer' },
      { value: target.id, type: 'text' },
    ],
  );
}

export async function removeOutboxEntries(session: EngineSession, dialect: SqlDialect, target: string, seqs: readonly number[]): Promise<void> {
  if (seqs.length === 0) return;
  const table = internalTarget(dialect, DSS_OUTBOX);
  for (const set of keySets(table, seqs.map((seq) => ({ seq, target })), 'removeOutboxEntries')) await session.deleteKeys(set);
}

export async function outboxSummaries(conn: SqlConnection, dialect: SqlDialect): Promise<OutboxSummary[]> {
  const q = (name: string) => dialect.quote(name);
  const rows = await conn.all(
    `SELECT ${q('target')}, COUNT(*) AS ${q('depth')}, MIN(${q('created_at')}) AS ${q('oldest')} FROM ${dialect.relation(DSS_OUTBOX.name)} GROUP BY ${q('target')}`,
  );
  return rows.map((row) => ({ target: asText(row['target']), depth: Number(row['depth']), oldestAt: row['oldest'] === null ? null : asText(row['oldest']) }));
}

export async function targetStates(conn: SqlConnection, dialect: SqlDialect): Promise<TargetState[]> {
  const rows = await conn.all(`SELECT * FROM ${dialect.relation(DSS_DELIVERY_TARGETS.name)} ORDER BY ${dialect.quote('target')}`);
  const text = (value: unknown): string | null => (value === null || value === undefined ? null : asText(value));
  return rows.map((row) => ({
    target: asText(row['target']),
    streamId: asText(row['stream_id']),
    lastSuccessAt: text(row['last_success_at']),
    lastError: text(row['last_error']),
    lastErrorAt: text(row['last_error_at']),
    consecutiveFailures: Number(row['consecutive_failures'] ?? 0),
    delivered: Number(row['delivered'] ?? 0),
    setAside: parseList(text(row['set_aside'])),
    restartPending: Number(row['restart_pending'] ?? 0) !== 0,
  }));
}

function parseList(text: string | null): string[] {
  if (text === null) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return [];
  }
}

export async function writeTargetState(session: EngineSession, dialect: SqlDialect, state: TargetState): Promise<void> {
  await writeRow(session, dialect, DSS_DELIVERY_TARGETS, {
    target: state.target,
    stream_id: state.streamId,
    last_success_at: state.lastSuccessAt,
    last_error: state.lastError,
    last_error_at: state.lastErrorAt,
    consecutive_failures: state.consecutiveFailures,
    set_aside: state.setAside.length > 0 ? JSON.stringify(state.setAside) : null,
    restart_pending: state.restartPending ? 1 : 0,
  });
}

/**
 * The target was emptied: its delivered state goes (with its shape, so that records of a new
 * shape are delivered after a reset), its outbox is replaced by one entry for every record.
 */
export async function restartDelivery(session: EngineSession, dialect: SqlDialect, target: Pick<DeliveryTarget, 'id' | 'streamId'>, now: Date): Promise<void> {
  const q = (name: string) => dialect.quote(name);
  await session.run(`DROP TABLE IF EXISTS ${dialect.relation(deliveredTableName(target.id))}`);
  await session.run(`DELETE FROM ${dialect.relation(DSS_OUTBOX.name)} WHERE ${q('target')} = ${dialect.param(0)}`, [{ value: target.id, type: 'text' }]);
  await writeRow(session, dialect, DSS_DELIVERY_TARGETS, {
    target: target.id,
    stream_id: target.streamId,
    delivered_table: null,
    spec: null,
    set_aside: null,
    restart_pending: 0,
  });
  const recorder = new OutboxRecorder();
  recorder.everything([target.id]);
  await recorder.flush(session, dialect, now);
}
