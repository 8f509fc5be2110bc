import type { EngineSession, SqlConnection, SqlDialect, SqlDriver } from './engine.js';
import { writeRow } from './internal-rows.js';
import { DSS_DELIVERY_TARGETS, DSS_OUTBOX, DSS_SCHEMA_VERSION, DSS_STREAM_HISTORY, DSS_TABLES, DSS_VIEWS, SYNC_STATE, type InternalTable } from './internal-tables.js';
import { runInTransaction } from './sql-transaction.js';

/** One change to the store's own tables, rendered by each engine's dialect. */
export type MigrationStep =
  | { readonly createTable: InternalTable }
  /** An index on columns of one of the store's own tables (dialect.createIndexSql, as for user tables). */
  | { readonly createIndex: { readonly table: InternalTable; readonly name: string; readonly columns: readonly string[] } };

/**
 * The store's own tables, by version, for every engine. A version is applied once, in order, in
 * the transaction that records it, so a crash halfway leaves the previous version intact.
 * Append new versions; never edit one that has shipped.
 */
export const MIGRATIONS: readonly { readonly version: number; readonly steps: readonly MigrationStep[] }[] = [
  { version: 1, steps: [{ createTable: SYNC_STATE }, { createTable: DSS_TABLES }, { createTable: DSS_VIEWS }] },
  { version: 2, steps: [{ createTable: DSS_STREAM_HISTORY }] },
  {
    version: 3,
    steps: [
      { createTable: DSS_OUTBOX },
      // The pusher reads a target's oldest entries: without it, every read would scan every target's.
      { createIndex: { table: DSS_OUTBOX, name: 'dss_outbox_target_seq', columns: ['target', 'seq'] } },
      { createTable: DSS_DELIVERY_TARGETS },
    ],
  },
];

export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((migration) => migration.version));

export interface MigrationHooks {
  /**
   * First in the migrating transaction: an engine shared by daemons that may start together takes
   * a lock here (the others wait, then find nothing left to do), and creates its schema.
   */
  readonly before?: (session: EngineSession) => Promise<void>;
  /** Statements of the engine's own, run with a version's steps (SQLite's instance-lock table). */
  readonly extra?: Readonly<Record<number, readonly string[]>>;
}

/** Brings the store's own tables to SCHEMA_VERSION; returns the versions it applied. */
export function migrate(driver: SqlDriver, hooks: MigrationHooks = {}): Promise<number[]> {
  const { dialect } = driver;
  return runInTransaction(driver, undefined, async (session) => {
    await hooks.before?.(session);
    if ((await session.relationKind(DSS_SCHEMA_VERSION.name)) === undefined) {
      await session.run(dialect.createInternalTableSql(DSS_SCHEMA_VERSION));
    }
    const current = await storedVersion(session, dialect);
    if (current > SCHEMA_VERSION) {
      throw new Error(`${driver.label} is at schema version ${current}, newer than this program knows (${SCHEMA_VERSION}); upgrade dataspace-sync`);
    }
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      for (const step of migration.steps) await session.run(stepSql(dialect, step));
      for (const sql of hooks.extra?.[migration.version] ?? []) await session.run(sql);
      await writeRow(session, dialect, DSS_SCHEMA_VERSION, { version: migration.version, applied_at: new Date().toISOString() });
      applied.push(migration.version);
    }
    return applied;
  });
}

function stepSql(dialect: SqlDialect, step: MigrationStep): string {
  if ('createTable' in step) return dialect.createInternalTableSql(step.createTable);
  return dialect.createIndexSql(step.createIndex.table.name, step.createIndex.name, step.createIndex.columns);
}

/** The version the store's own tables are at; 0 when the store was never initialised. */
export async function storedVersion(conn: SqlConnection, dialect: SqlDialect): Promise<number> {
  if ((await conn.relationKind(DSS_SCHEMA_VERSION.name)) === undefined) return 0;
  const rows = await conn.all(`SELECT MAX(version) AS version FROM ${dialect.relation(DSS_SCHEMA_VERSION.name)}`);
  const version = rows[0]?.version;
  return version === null || version === undefined ? 0 : Number(version);
}
