import type Database from 'better-sqlite3';

/**
 * The store's own tables, by version. A migration is applied once, in order, in the same
 * transaction that records it, so a crash halfway leaves the previous version intact.
 * Append new versions; never edit one that has shipped.
 */
// dss_tables/dss_views names compare without case because SQLite's own table names do.
const MIGRATIONS: readonly { readonly version: number; readonly sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE sync_state (
        stream_id TEXT PRIMARY KEY NOT NULL,
        job_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        cursor TEXT,
        status TEXT NOT NULL,
        last_attempt_at TEXT,
        last_success_at TEXT,
        last_change_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        rows_upserted INTEGER NOT NULL DEFAULT 0,
        rows_deleted INTEGER NOT NULL DEFAULT 0,
        details TEXT,
        lease_owner TEXT,
        lease_epoch INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE dss_instance_lock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        owner TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
      );
      CREATE TABLE dss_tables (
        name TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
        spec TEXT NOT NULL
      );
      CREATE TABLE dss_views (
        name TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
        spec TEXT NOT NULL,
        definition TEXT NOT NULL
      );
    `,
  },
];

export const SQLITE_SCHEMA_VERSION = Math.max(...MIGRATIONS.map((migration) => migration.version));

/** Brings the internal tables to the current version; returns the versions it applied. */
export function migrateSqlite(db: Database.Database): number[] {
  const applied: number[] = [];
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('CREATE TABLE IF NOT EXISTS dss_schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    const current = storedVersion(db);
    if (current > SQLITE_SCHEMA_VERSION) {
      throw new Error(
        `the store's schema is at version ${current}, newer than this program knows (${SQLITE_SCHEMA_VERSION}); upgrade dataspace-sync`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.prepare('INSERT INTO dss_schema_version (version, applied_at) VALUES (?, ?)').run(migration.version, new Date().toISOString());
      applied.push(migration.version);
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
  return applied;
}

/** 0 when the store was never initialised. */
export function storedVersion(db: Database.Database): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dss_schema_version'").get();
  if (!table) return 0;
  const row = db.prepare('SELECT MAX(version) AS version FROM dss_schema_version').get() as { version: number | bigint | null };
  return row.version === null ? 0 : Number(row.version);
}
