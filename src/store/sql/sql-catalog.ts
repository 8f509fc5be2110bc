import { createHash } from 'node:crypto';
import type { ColumnType, TableSpec, ViewSpec } from '../../core/tables.js';
import { StoreSchemaError } from '../store.js';
import type { EngineSession, SqlDialect, Target } from './engine.js';
import { updateWhere } from './change-applier.js';
import { internalTarget, writeRow } from './internal-rows.js';
import { DSS_TABLES, DSS_VIEWS } from './internal-tables.js';
import { asText } from './read-values.js';
import {
  describeSpecDifference,
  indexName,
  mergedIndexes,
  schemaMismatchError,
  specFromJson,
  specToJson,
  validateTableSpec,
} from './table-spec.js';
import { RowDigests } from './row-digests.js';
import { StagingAreas } from './staging.js';
import { planView, viewTables } from './view-sql.js';

interface Entry {
  readonly spec: TableSpec;
  readonly json: string;
}

/**
 * Table specs known to be committed, kept across transactions by an engine with a single writer
 * (nobody else can change them in between). Keyed by catalog name (folded where the engine folds case).
 */
export type SpecCache = Map<string, Entry>;

/**
 * The tables and views the store made, as one transaction sees them: their specs live in
 * dss_tables / dss_views, so a later ensureTable compares with exactly what was asked, not with
 * what the engine reports. Specs this transaction writes stay its own until it commits (a rolled-
 * back replaceTable must not leave a cache describing a table that does not exist).
 *
 * The DDL is the dialect's; the decisions (adopt, refuse, merge indexes, rebuild views over a
 * rebuilt table) are made here once for every engine.
 */
export class SqlCatalog {
  /** What this transaction wrote, and (without a shared cache) what it read; undefined: known to be missing. */
  private readonly local = new Map<string, Entry | undefined>();
  private readonly written = new Set<string>();
  /** Tables rebuilt under a shadow name in this transaction (dialect.rebuild `swap`), by catalog key. */
  private readonly shadows = new Map<string, { readonly name: string; readonly shadow: string }>();
  /** The transaction's staging tables (beginStaging ... applyStaged). */
  readonly staging: StagingAreas;
  /** The transaction's snapshots (beginSnapshot ... applySnapshot) and the row digests they keep. */
  readonly digests: RowDigests;

  constructor(
    private readonly session: EngineSession,
    readonly dialect: SqlDialect,
    private readonly cache: SpecCache | undefined,
  ) {
    this.staging = new StagingAreas(session, dialect);
    this.digests = new RowDigests(session, dialect, this.staging);
  }

  /** Where a table's rows are written in this transaction; throws when the store never made it. */
  async target(name: string): Promise<Target> {
    const entry = await this.lookup(name);
    if (!entry) throw new StoreSchemaError(`table ${JSON.stringify(name)} is unknown to the store (ensureTable or replaceTable it first)`);
    return { spec: entry.spec, relation: this.dialect.relation(this.physicalName(entry.spec.name)) };
  }

  /** The key of a table, or of a view's base table, as this transaction sees them; undefined when neither exists. */
  async keyOf(relation: string): Promise<readonly string[] | undefined> {
    const table = await this.lookup(relation);
    if (table) return table.spec.primaryKey;
    const rows = await this.session.all(`SELECT spec FROM ${this.dialect.relation(DSS_VIEWS.name)} WHERE name = ${this.dialect.param(0)}`, [
      { value: relation, type: 'text' },
    ]);
    if (!rows[0]) return undefined;
    const view = JSON.parse(asText(rows[0].spec)) as ViewSpec;
    return (await this.lookup(view.from))?.spec.primaryKey;
  }

  async ensureTable(spec: TableSpec): Promise<void> {
    const json = specToJson(spec);
    const key = this.key(spec.name);
    if ((this.local.get(key) ?? this.cache?.get(key))?.json === json) return;
    validateTableSpec(spec);
    await this.session.lockName(spec.name);
    const known = await this.lookup(spec.name);
    if (known) {
      if (known.json === json) return;
      const differences = describeSpecDifference(known.spec, spec);
      if (differences.length > 0) throw schemaMismatchError(spec, differences);
      const merged: TableSpec = { ...spec, name: known.spec.name, indexes: mergedIndexes(known.spec, spec) };
      await this.createIndexes(merged, this.physicalName(merged.name));
      if (specToJson(merged) !== known.json) await this.remember(merged);
      return;
    }
    const kind = await this.session.relationKind(spec.name);
    if (kind === 'view') throw new StoreSchemaError(`table ${spec.name}: a view of that name exists`);
    if (kind === 'table') {
      // Made by someone else (or by a version that kept no catalog): adopt it only if it matches.
      const sameType = (a: ColumnType, b: ColumnType): boolean => this.dialect.columnType(a) === this.dialect.columnType(b);
      const differences = describeSpecDifference(await this.session.introspect(spec.name), spec, sameType);
      if (differences.length > 0) throw schemaMismatchError(spec, differences);
    } else {
      await this.session.run(this.dialect.createTableSql(spec, spec.name));
    }
    await this.createIndexes(spec, spec.name);
    await this.remember(spec);
  }

  /**
   * Drops and recreates the table, empty, inside the open transaction, in the dialect's way
   * (in place, or under a shadow name swapped in before COMMIT). Views over the table are rebuilt
   * from the new spec, so a full load that adds a column shows it there too.
   */
  async replaceTable(spec: TableSpec): Promise<void> {
    validateTableSpec(spec);
    await this.session.lockName(spec.name);
    if ((await this.session.relationKind(spec.name)) === 'view') throw new StoreSchemaError(`table ${spec.name}: a view of that name exists`);
    if (this.dialect.rebuild.kind === 'swap') {
      const shadow = shadowName(spec.name);
      await this.session.run(`DROP TABLE IF EXISTS ${this.dialect.relation(shadow)}`);
      await this.session.run(this.dialect.createTableSql(spec, shadow));
      this.shadows.set(this.key(spec.name), { name: spec.name, shadow });
      await this.createIndexes(spec, shadow);
      await this.remember(spec);
      return;
    }
    // A view keeps its old column list when its table is dropped under it: drop the views first.
    const dependents = await this.viewsOver((table) => this.key(table) === this.key(spec.name));
    for (const view of dependents) await this.session.run(`DROP VIEW IF EXISTS ${this.dialect.relation(view.name)}`);
    await this.session.run(`DROP TABLE IF EXISTS ${this.dialect.relation(spec.name)}`);
    await this.session.run(this.dialect.createTableSql(spec, spec.name));
    await this.createIndexes(spec, spec.name);
    await this.remember(spec);
    for (const view of dependents) await this.ensureView(view, true);
  }

  async ensureView(spec: ViewSpec, force = false): Promise<void> {
    const tables = viewTables(spec);
    const specs = new Map<string, TableSpec | undefined>();
    for (const name of tables) specs.set(name, (await this.lookup(name))?.spec);
    const definition = planView(spec, (name) => specs.get(name), this.dialect).sql;
    if (await this.lookup(spec.name)) throw new StoreSchemaError(`view ${spec.name}: a table of that name exists`);
    await this.session.lockName(spec.name);
    const stored = await this.session.all(`SELECT definition FROM ${this.dialect.relation(DSS_VIEWS.name)} WHERE name = ${this.dialect.param(0)}`, [
      { value: spec.name, type: 'text' },
    ]);
    const kind = await this.session.relationKind(spec.name);
    if (kind === 'table') throw new StoreSchemaError(`view ${spec.name}: a table of that name exists`);
    if (!force && kind === 'view' && stored[0] !== undefined && asText(stored[0].definition) === definition) return;
    await writeRow(this.session, this.dialect, DSS_VIEWS, { name: spec.name, spec: JSON.stringify(spec), definition });
    // A view over a table being rebuilt is created at the swap, once the table has its real name.
    if (tables.some((name) => this.shadows.has(this.key(name)))) return;
    await this.session.run(`DROP VIEW IF EXISTS ${this.dialect.relation(spec.name)}`);
    await this.session.run(`CREATE VIEW ${this.dialect.relation(spec.name)} AS ${definition}`);
  }

  /**
   * Drops staging tables left over, and swaps the tables rebuilt under shadow names in, with the
   * views over them; the last step before COMMIT, so readers are locked out only for that instant.
   */
  async beforeCommit(): Promise<void> {
    await this.staging.dropAll();
    if (this.shadows.size === 0) return;
    const { rebuild } = this.dialect;
    if (rebuild.kind !== 'swap') return;
    const dependents = await this.viewsOver((table) => this.shadows.has(this.key(table)));
    for (const view of dependents) await this.session.run(`DROP VIEW IF EXISTS ${this.dialect.relation(view.name)}`);
    for (const { name, shadow } of this.shadows.values()) {
      const { spec } = await this.target(name);
      for (const sql of rebuild.swapSql(shadow, name, spec)) await this.session.run(sql);
    }
    this.shadows.clear();
    for (const view of dependents) {
      const specs = new Map<string, TableSpec | undefined>();
      for (const name of viewTables(view)) specs.set(name, (await this.lookup(name))?.spec);
      const definition = planView(view, (name) => specs.get(name), this.dialect).sql;
      await this.session.run(`CREATE VIEW ${this.dialect.relation(view.name)} AS ${definition}`);
      await updateWhere(this.session, this.dialect, internalTarget(this.dialect, DSS_VIEWS), {
        set: { definition },
        where: [{ column: 'name', op: '=', value: view.name }],
      });
    }
  }

  /** After COMMIT: what this transaction wrote is now committed, for the next transactions of a single writer. */
  committed(): void {
    if (!this.cache) return;
    for (const key of this.written) {
      const entry = this.local.get(key);
      if (entry) this.cache.set(key, entry);
    }
  }

  private async lookup(name: string): Promise<Entry | undefined> {
    const key = this.key(name);
    if (this.local.has(key)) return this.local.get(key);
    const cached = this.cache?.get(key);
    if (cached) return cached;
    const rows = await this.session.all(`SELECT spec FROM ${this.dialect.relation(DSS_TABLES.name)} WHERE name = ${this.dialect.param(0)}`, [
      { value: name, type: 'text' },
    ]);
    const entry = rows[0] ? toEntry(asText(rows[0].spec)) : undefined;
    // A row read here is committed: anything this transaction changed is in `local`.
    if (entry && this.cache) this.cache.set(key, entry);
    else this.local.set(key, entry);
    return entry;
  }

  private async remember(spec: TableSpec): Promise<void> {
    const json = specToJson(spec);
    await writeRow(this.session, this.dialect, DSS_TABLES, { name: spec.name, spec: json });
    const key = this.key(spec.name);
    this.local.set(key, toEntry(json));
    this.written.add(key);
  }

  private async createIndexes(spec: TableSpec, physicalName: string): Promise<void> {
    for (const columns of spec.indexes ?? []) {
      await this.session.run(this.dialect.createIndexSql(physicalName, indexName(physicalName, columns), columns));
    }
  }

  private async viewsOver(reads: (table: string) => boolean): Promise<ViewSpec[]> {
    const rows = await this.session.all(`SELECT name, spec FROM ${this.dialect.relation(DSS_VIEWS.name)} ORDER BY name`);
    return rows.map((row) => JSON.parse(asText(row.spec)) as ViewSpec).filter((view) => viewTables(view).some(reads));
  }

  private physicalName(name: string): string {
    return this.shadows.get(this.key(name))?.shadow ?? name;
  }

  private key(name: string): string {
    return this.dialect.foldsCase ? name.toLowerCase() : name;
  }
}

function toEntry(json: string): Entry {
  const spec = specFromJson(json);
  return { spec, json: specToJson(spec) };
}

/** Reserved prefix (users cannot name a table dss_*), unique per table, within 63 characters. */
function shadowName(table: string): string {
  return `dss_new_${createHash('sha256').update(table).digest('hex').slice(0, 24)}`;
}
