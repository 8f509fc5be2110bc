import type pg from 'pg';

/**
 * The store's own tables in the configured schema, by version. Several daemons may start at once
 * against one database: an advisory lock held for the migrating transaction lets one migrate while
 * the others wait and then find nothing left to do. Append new versions; never edit a shipped one.
 */
function migrations(schema: string): readonly { readonly version: number; readonly sql: string }[] {
  return [
    {
      version: 1,
      sql: `
        CREATE TABLE ${schema}.sync_state (
          stream_id TEXT PRIMARY KEY,
          job_id TEXT NOT NULL,
          kind TEXT NOT NULL,
          cursor TEXT,
          status TEXT NOT NULL,
          last_attempt_at TEXT,
          last_success_at TEXT,
          last_change_at TEXT,
          consecutive_failures INTEGER NOT NULL DEFAULT 0,
          last_error TEXT,
          rows_upserted BIGINT NOT NULL DEFAULT 0,
          rows_deleted BIGINT NOT NULL DEFAULT 0,
          details TEXT,
          lease_owner TEXT,
          lease_epoch BIGINT NOT NULL DEFAULT 0
        );
        CREATE TABLE ${schema}.dss_tables (
          name TEXT PRIMARY KEY,
          spec TEXT NOT NULL
        );
        CREATE TABLE ${schema}.dss_views (
          name TEXT PRIMARY KEY,
          spec TEXT NOT NULL,
          definition TEXT NOT NULL
        );
      `,
    },
  ];
}

export const POSTGRES_SCHEMA_VERSION = 1;

/** `schema` is the quoted schema name. Returns the versions applied. */
export async function migratePostgres(client: pg.PoolClient, schema: string, schemaName: string): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('dataspace-sync:migrate:' || $1, 0))", [schemaName]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.dss_schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`);
    const current = await storedPostgresVersion(client, schema);
    if (current > POSTGRES_SCHEMA_VERSION) {
      throw new Error(
        `schema ${schemaName} is at store version ${current}, newer than this program knows (${POSTGRES_SCHEMA_VERSION}); upgrade dataspace-sync`,
      );
    }
    for (const migration of migrations(schema)) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${schema}.dss_schema_version (version, applied_at) VALUES ($1, $2)`, [migration.version, new Date().toISOString()]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return applied;
}

/** 0 when the schema holds no store yet. */
export async function storedPostgresVersion(client: pg.ClientBase, schema: string): Promise<number> {
  const exists = await client.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [`${schema}.dss_schema_version`]);
  if (exists.rows[0]?.found === null || exists.rows[0]?.found === undefined) return 0;
  const result = await client.query<{ version: number | null }>(`SELECT MAX(version) AS version FROM ${schema}.dss_schema_version`);
  return result.rows[0]?.version ?? 0;
}
