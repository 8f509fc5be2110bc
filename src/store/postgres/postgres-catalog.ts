import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ColumnType, TableSpec, ViewSpec } from '../../core/tables.js';
import { StoreSchemaError } from '../store.js';
import { quoteIdent } from '../sql/quote.js';
import {
  describeSpecDifference,
  indexName,
  isNullableColumn,
  mergedIndexes,
  primaryKeyName,
  schemaMismatchError,
  specFromJson,
  specToJson,
  validateTableSpec,
} from '../sql/table-spec.js';
import { planView, viewTables } from '../sql/view-sql.js';

export const POSTGRES_TYPES: Record<ColumnType, string> = {
  text: 'TEXT',
  timestamp: 'TEXT',
  // json, not jsonb: jsonb rewrites the document (key order, spacing, duplicate keys), and a
  // mirror must hand back what the source sent. json still validates and offers the -> operators.
  json: 'JSON',
  integer: 'BIGINT',
  real: 'DOUBLE PRECISION',
  boolean: 'BOOLEAN',
};

/**
 * The table and view catalog as one transaction sees it (dss_tables / dss_views in the schema).
 * Specs are not cached across transactions: another daemon may rebuild a table in between.
 *
 * replaceTable cannot drop the live table at once: PostgreSQL's DROP locks it against readers
 * until commit, and a full load must let readers see the old rows meanwhile. So the new table is
 * built under a shadow name, written to through that name, and swapped in (drop old, rename new,
 * rebuild dependent views) just before COMMIT, holding the exclusive lock only for that instant.
 */
export class PostgresCatalog {
  private readonly specs = new Map<string, TableSpec | undefined>();
  private readonly shadows = new Map<string, string>();

  constructor(
    private readonly client: pg.PoolClient,
    /** The schema's plain name. */
    private readonly schema: string,
  ) {}

  /** Schema-qualified, quoted name of a relation. */
  qualify(name: string): string {
    return `${quoteIdent(this.schema, 'schema name')}.${quoteIdent(name)}`;
  }

  /** Where the table's rows are written in this transaction: its shadow after a replaceTable. */
  physical(name: string): string {
    return this.qualify(this.shadows.get(name) ?? name);
  }

  async table(name: string): Promise<TableSpec> {
    const spec = await this.lookup(name);
    if (!spec) throw new StoreSchemaError(`table ${JSON.stringify(name)} is unknown to the store (ensureTable or replaceTable it first)`);
    return spec;
  }

  async ensureTable(spec: TableSpec): Promise<void> {
    const json = specToJson(spec);
    const cached = this.specs.get(spec.name);
    if (cached && specToJson(cached) === json) return;
    validateTableSpec(spec);
    await this.lockName(spec.name);
    const known = await this.lookup(spec.name);
    if (known) {
      const differences = describeSpecDifference(known, spec);
      if (differences.length > 0) throw schemaMismatchError(spec, differences);
      const merged: TableSpec = { ...spec, indexes: mergedIndexes(known, spec) };
      await this.createIndexes(merged, this.shadows.get(spec.name) ?? spec.name);
      if (specToJson(merged) !== specToJson(known)) await this.remember(merged);
      return;
    }
    const kind = await this.relationKind(spec.name);
    if (kind === 'view') throw new StoreSchemaError(`table ${spec.name}: a view of that name exists`);
    if (kind === 'table') {
      // Made by someone else: adopt it only if it matches.
      const differences = describeSpecDifference(await this.introspect(spec.name), spec, (a, b) => POSTGRES_TYPES[a] === POSTGRES_TYPES[b]);
      if (differences.length > 0) throw schemaMismatchError(spec, differences);
    } else {
      await this.client.query(this.createTableSql(spec, spec.name));
    }
    await this.createIndexes(spec, spec.name);
    await this.remember(spec);
  }

  async replaceTable(spec: TableSpec): Promise<void> {
    validateTableSpec(spec);
    await this.lockName(spec.name);
    if ((await this.relationKind(spec.name)) === 'view') throw new StoreSchemaError(`table ${spec.name}: a view of that name exists`);
    const shadow = shadowName(spec.name);
    await this.client.query(`DROP TABLE IF EXISTS ${this.qualify(shadow)}`);
    await this.client.query(this.createTableSql(spec, shadow));
    this.shadows.set(spec.name, shadow);
    await this.createIndexes(spec, shadow);
    await this.remember(spec);
  }

  async ensureView(spec: ViewSpec): Promise<void> {
    const tables = viewTables(spec);
    const specs = new Map<string, TableSpec | undefined>();
    for (const name of tables) specs.set(name, await this.lookup(name));
    const definition = planView(spec, (name) => specs.get(name), (quoted) => `${quoteIdent(this.schema, 'schema name')}.${quoted}`).sql;
    if (await this.lookup(spec.name)) throw new StoreSchemaError(`view ${spec.name}: a table of that name exists`);
    await this.lockName(spec.name);
    const stored = await this.client.query<{ definition: string }>(`SELECT definition FROM ${this.qualify('dss_views')} WHERE name = $1`, [spec.name]);
    const kind = await this.relationKind(spec.name);
    if (kind === 'table') throw new StoreSchemaError(`view ${spec.name}: a table of that name exists`);
    const unchanged = kind === 'view' && stored.rows[0]?.definition === definition;
    if (unchanged) return;
    await this.client.query(
      `INSERT INTO ${this.qualify('dss_views')} (name, spec, definition) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, definition = EXCLUDED.definition`,
      [spec.name, JSON.stringify(spec), definition],
    );
    // A view over a table being rebuilt is created at the swap, once the table has its real name.
    if (tables.some((name) => this.shadows.has(name))) return;
    await this.client.query(`DROP VIEW IF EXISTS ${this.qualify(spec.name)}`);
    await this.client.query(`CREATE VIEW ${this.qualify(spec.name)} AS ${definition}`);
  }

  /** Swaps rebuilt tables in; call last before COMMIT. */
  async beforeCommit(): Promise<void> {
    if (this.shadows.size === 0) return;
    const views = await this.client.query<{ name: string; spec: string }>(`SELECT name, spec FROM ${this.qualify('dss_views')} ORDER BY name`);
    const dependents = views.rows
      .map((row) => JSON.parse(row.spec) as ViewSpec)
      .filter((view) => viewTables(view).some((table) => this.shadows.has(table)));
    for (const view of dependents) await this.client.query(`DROP VIEW IF EXISTS ${this.qualify(view.name)}`);
    for (const [name, shadow] of this.shadows) {
      const spec = await this.table(name);
      await this.client.query(`DROP TABLE IF EXISTS ${this.qualify(name)}`);
      await this.client.query(`ALTER TABLE ${this.qualify(shadow)} RENAME TO ${quoteIdent(name)}`);
      await this.client.query(`ALTER TABLE ${this.qualify(name)} RENAME CONSTRAINT ${quoteIdent(primaryKeyName(shadow))} TO ${quoteIdent(primaryKeyName(name))}`);
      for (const columns of spec.indexes ?? []) {
        await this.client.query(`ALTER INDEX ${this.qualify(indexName(shadow, columns))} RENAME TO ${quoteIdent(indexName(name, columns))}`);
      }
    }
    this.shadows.clear();
    for (const view of dependents) {
      const specs = new Map<string, TableSpec | undefined>();
      for (const name of viewTables(view)) specs.set(name, await this.lookup(name));
      const definition = planView(view, (name) => specs.get(name), (quoted) => `${quoteIdent(this.schema, 'schema name')}.${quoted}`).sql;
      await this.client.query(`CREATE VIEW ${this.qualify(view.name)} AS ${definition}`);
      await this.client.query(`UPDATE ${this.qualify('dss_views')} SET definition = $2 WHERE name = $1`, [view.name, definition]);
    }
  }

  private async lookup(name: string): Promise<TableSpec | undefined> {
    if (this.specs.has(name)) return this.specs.get(name);
    const result = await this.client.query<{ spec: string }>(`SELECT spec FROM ${this.qualify('dss_tables')} WHERE name = $1`, [name]);
    const row = result.rows[0];
    const spec = row ? specFromJson(row.spec) : undefined;
    this.specs.set(name, spec);
    return spec;
  }

  private async remember(spec: TableSpec): Promise<void> {
    const json = specToJson(spec);
    await this.client.query(`INSERT INTO ${this.qualify('dss_tables')} (name, spec) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec`, [
      spec.name,
      json,
    ]);
    this.specs.set(spec.name, specFromJson(json));
  }

  /** Two daemons creating or rebuilding one table take turns instead of failing on each other's DDL. */
  private async lockName(name: string): Promise<void> {
    await this.client.query("SELECT pg_advisory_xact_lock(hashtextextended('dataspace-sync:relation:' || $1 || '.' || $2, 0))", [this.schema, name]);
  }

  private createTableSql(spec: TableSpec, physicalName: string): string {
    // Text compares byte-wise (COLLATE "C"), as in SQLite: "newer wins" on text stamps and key
    // order must not depend on the database's locale.
    const columns = spec.columns.map((column) => {
      const collate = POSTGRES_TYPES[column.type] === 'TEXT' ? ' COLLATE "C"' : '';
      return `${quoteIdent(column.name)} ${POSTGRES_TYPES[column.type]}${collate}${isNullableColumn(spec, column) ? '' : ' NOT NULL'}`;
    });
    const key = `CONSTRAINT ${quoteIdent(primaryKeyName(physicalName))} PRIMARY KEY (${spec.primaryKey.map((column) => quoteIdent(column)).join(', ')})`;
    return `CREATE TABLE ${this.qualify(physicalName)} (${columns.join(', ')}, ${key})`;
  }

  private async createIndexes(spec: TableSpec, physicalName: string): Promise<void> {
    for (const columns of spec.indexes ?? []) {
      await this.client.query(
        `CREATE INDEX IF NOT EXISTS ${quoteIdent(indexName(physicalName, columns))} ON ${this.qualify(physicalName)} (${columns.map((column) => quoteIdent(column)).join(', ')})`,
      );
    }
  }

  private async relationKind(name: string): Promise<'table' | 'view' | undefined> {
    const result = await this.client.query<{ relkind: string }>(
      'SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
      [this.schema, name],
    );
    const kind = result.rows[0]?.relkind;
    if (kind === 'v' || kind === 'm') return 'view';
    return kind === undefined ? undefined : 'table';
  }

  /** A spec reconstructed from PostgreSQL's catalog, for comparing with a table the store did not create. */
  private async introspect(name: string): Promise<TableSpec> {
    const relation = this.qualify(name);
    const columns = await this.client.query<{ name: string; type: string; notnull: boolean }>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull
         FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [relation],
    );
    const key = await this.client.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
      [relation],
    );
    const primaryKey = key.rows.map((row) => row.name);
    const typeOf = (declared: string): ColumnType => {
      if (/^(bigint|integer|smallint)$/.test(declared)) return 'integer';
      if (/^(double precision|real|numeric)/.test(declared)) return 'real';
      if (declared === 'boolean') return 'boolean';
      if (declared === 'json' || declared === 'jsonb') return 'json';
      return 'text';
    };
    return {
      name,
      columns: columns.rows.map((column) => ({
        name: column.name,
        type: typeOf(column.type),
        ...(column.notnull && !primaryKey.includes(column.name) ? { nullable: false } : {}),
      })),
      primaryKey,
    };
  }
}

/** Reserved prefix (users cannot name a table dss_*), unique per table, within 63 characters. */
function shadowName(table: string): string {
  return `dss_new_${createHash('sha256').update(table).digest('hex').slice(0, 24)}`;
}
