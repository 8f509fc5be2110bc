import { createHash } from 'node:crypto';
import type { ApplyCounts, ApplyStagedOp } from '../../core/ops.js';
import type { ColumnSpec, SqlValue, TableSpec } from '../../core/tables.js';
import { StoreSchemaError } from '../store.js';
import { updateWhere, upsert } from './change-applier.js';
import { changedSql, type DistinctSql } from './changed-sql.js';
import type { EngineSession, SqlDialect, Target } from './engine.js';
import { begunColumns, columnOf } from './table-spec.js';

/** One table's staging area in the open transaction. */
interface Area {
  /** The table's own name, as the operations give it. */
  readonly table: string;
  /** The staging table: the staged columns, keyed like the table. */
  readonly target: Target;
  readonly columns: readonly ColumnSpec[];
  /**
   * Whether the staging table has the primary key. An area of keys alone (a reconciliation, or a
   * snapshot whose rows were upserted as they came) is a heap instead: appending costs no b-tree
   * insert a row, a key staged twice is harmless, and one index is built when the area is applied.
   */
  readonly keyed: boolean;
  readonly name: string;
}

/** The alias of the staging table in the statements applyStaged writes. */
const STAGED = '"stg"';

/**
 * Staging for beginStaging, stageRows and applyStaged, written once for every engine: the dialect
 * supplies the temporary table and two primitives of SQL text (`staging.distinct`,
 * `staging.updateFromSql`); rows are staged through the engine's own bulk upsert, so a key staged
 * twice keeps its later row. Areas live as long as their transaction: applyStaged drops one, a
 * rollback drops them with everything else, and a commit drops any left over.
 */
export class StagingAreas {
  private readonly areas = new Map<string, Area>();

  constructor(
    private readonly session: EngineSession,
    private readonly dialect: SqlDialect,
  ) {}

  /** Creates (or empties, when begun again) the staging table of `target` for `columns`. */
  async begin(target: Target, columns: readonly string[]): Promise<void> {
    const { spec } = target;
    const staged = begunColumns(spec, columns, 'beginStaging');
    const name = stagingName(spec.name);
    const stagingSpec: TableSpec = { name, columns: staged, primaryKey: spec.primaryKey };
    const relation = this.dialect.staging.relation(name);
    const keyed = columns.length > spec.primaryKey.length;
    await this.session.run(`DROP TABLE IF EXISTS ${relation}`);
    await this.session.run(this.dialect.staging.createSql(stagingSpec, name, keyed));
    this.areas.set(this.key(spec.name), { table: spec.name, target: { spec: stagingSpec, relation }, columns: staged, keyed, name });
  }

  async stage(table: string, rows: readonly (readonly SqlValue[])[]): Promise<void> {
    const area = this.area(table, 'stageRows');
    rows.forEach((row, index) => {
      if (row.length !== area.columns.length || row.some((cell: unknown) => cell === undefined)) {
        throw new StoreSchemaError(`table ${table}: staged row ${index} does not give exactly the ${area.columns.length} begun columns`);
      }
    });
    await upsert(this.session, area.target, { columns: area.columns.map((column) => column.name), rows }, !area.keyed);
  }

  /** Makes the table follow its staged rows, set-based, then drops the staging table. */
  async apply(target: Target, op: ApplyStagedOp): Promise<ApplyCounts> {
    const area = this.area(op.table, 'applyStaged');
    const { spec, relation } = target;
    for (const column of area.columns) {
      if (columnOf(spec, column.name, 'applyStaged').type !== column.type) {
        throw new StoreSchemaError(`table ${spec.name}: column ${column.name} changed type since beginStaging`);
      }
    }
    const q = (name: string) => this.dialect.quote(name);
    if (!area.keyed) await this.session.run(this.dialect.staging.indexSql(area.name, spec.primaryKey));
    const keyMatch = spec.primaryKey.map((name) => `${STAGED}.${q(name)} = ${relation}.${q(name)}`).join(' AND ');
    const notStaged = `NOT EXISTS (SELECT 1 FROM ${area.target.relation} AS ${STAGED} WHERE ${keyMatch})`;
    const counts: ApplyCounts = { upserted: 0, deleted: 0, updated: 0 };
    const { unstaged } = op;
    switch (unstaged.action) {
      case 'keep':
        break;
      case 'delete':
        counts.deleted += await this.session.run(`DELETE FROM ${relation} WHERE ${notStaged}`);
        break;
      case 'set':
        counts.updated += await updateWhere(this.session, this.dialect, target, { set: unstaged.set, where: unstaged.where ?? [] }, 'applyStaged', [notStaged]);
        break;
    }
    if (op.staged === 'write') {
      const values = area.columns.filter((column) => !spec.primaryKey.includes(column.name));
      if (values.length > 0) {
        counts.upserted += await this.session.run(
          this.dialect.staging.updateFromSql({
            target: relation,
            source: `${area.target.relation} AS ${STAGED}`,
            set: values.map((column) => `${q(column.name)} = ${STAGED}.${q(column.name)}`),
            where: `${keyMatch} AND ${changedSql(q, this.dialect.staging.distinct, values, relation, STAGED)}`,
          }),
        );
      }
      const names = area.columns.map((column) => q(column.name));
      counts.upserted += await this.session.run(
        `INSERT INTO ${relation} (${names.join(', ')}) SELECT ${area.keyed ? '' : 'DISTINCT '}${names.map((name) => `${STAGED}.${name}`).join(', ')} FROM ${area.target.relation} AS ${STAGED} ` +
          `WHERE NOT EXISTS (SELECT 1 FROM ${relation} WHERE ${keyMatch})`,
      );
    }
    await this.session.run(`DROP TABLE IF EXISTS ${area.target.relation}`);
    this.areas.delete(this.key(op.table));
    return counts;
  }

  /** Before COMMIT: staging tables never outlive their transaction, even one left unapplied. */
  async dropAll(): Promise<void> {
    for (const area of this.areas.values()) await this.session.run(`DROP TABLE IF EXISTS ${area.target.relation}`);
    this.areas.clear();
  }

  private area(table: string, what: string): Area {
    const area = this.areas.get(this.key(table));
    if (area === undefined) throw new StoreSchemaError(`table ${table}: ${what} without beginStaging in this transaction`);
    return area;
  }

  private key(table: string): string {
    return this.dialect.foldsCase ? table.toLowerCase() : table;
  }
}

/** A staging table's name: private to the connection, so only unique per table. */
function stagingName(table: string): string {
  return `dss_stage_${createHash('sha256').update(table.toLowerCase()).digest('hex').slice(0, 16)}`;
}

/** The parts of `UPDATE target ... FROM source WHERE ...`, for the dialect to spell. */
export interface UpdateFrom {
  readonly target: string;
  /** The source relation with its alias. */
  readonly source: string;
  /** `"col" = source.col` assignments. */
  readonly set: readonly string[];
  /** Refers to the target by its relation and to the source by its alias. */
  readonly where: string;
}

/** `UPDATE t SET ... FROM s WHERE ...`, as SQLite (3.33+) and PostgreSQL write it. */
export function updateFromSql(update: UpdateFrom): string {
  return `UPDATE ${update.target} SET ${update.set.join(', ')} FROM ${update.source} WHERE ${update.where}`;
}

/** The staging primitives an engine's dialect spells its own way. */
export interface StagingDialect {
  /** How statements name a staging table (the engine's temporary schema). */
  relation(name: string): string;
  /**
   * CREATE of a temporary staging table, gone at the latest when the transaction ends: keyed by
   * the spec's primary key, or (`keyed` false) a heap that rows are only appended to.
   */
  createSql(spec: TableSpec, name: string, keyed: boolean): string;
  /** CREATE INDEX on a staging heap's columns, once its rows are in (one sorted build, not a b-tree insert a row). */
  indexSql(name: string, columns: readonly string[]): string;
  /** `a` differs from `b`, where NULL equals NULL (values of a column of `type`). */
  distinct: DistinctSql;
  updateFromSql(update: UpdateFrom): string;
}
