import pg from 'pg';

/** The PostgreSQL the tests use: PGURL, or a local server with the default superuser. */
export const PG_URL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Undefined when PostgreSQL answers; otherwise why not, for the skip (or failure) message. */
export async function postgresUnavailable(url: string = PG_URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL at ${url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')} is unreachable: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * In CI PostgreSQL is part of the job, so its absence fails the run; elsewhere the PostgreSQL tests
 * are skipped with a visible note.
 */
export function postgresRequired(): boolean {
  return process.env.CI === 'true';
}

/** A schema name no other test run uses. */
export function randomSchemaName(prefix = 'dss_test'): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
}

export async function dropSchemas(schemas: readonly string[], url: string = PG_URL): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '""')}" CASCADE`);
  } finally {
    await client.end();
  }
}
