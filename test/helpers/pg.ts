import pg from 'pg';

/**
 * The PostgreSQL the tests use: PGURL, or a local server with the default superuser. Its sessions
 * commit without waiting for the WAL to reach the disk (synchronous_commit off, unless PGURL sets
 * options of its own): what commits stays atomic and is seen by every session at once, only a crash
 * of the server could lose the last commits, and no test crashes the shared server (the restart
 * tests start clusters of their own). The flush was most of what the PostgreSQL tests waited for.
 */
export const PG_URL = withoutCommitFlush(process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/postgres');

function withoutCommitFlush(url: string): string {
  const parsed = new URL(url);
  if (parsed.searchParams.has('options')) return url;
  parsed.searchParams.set('options', '-c synchronous_commit=off');
  return parsed.toString();
}

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

/** PG_URL with an application_name, so a test can find its own backends in pg_stat_activity among other runs'. */
export function urlNamed(applicationName: string, url: string = PG_URL): string {
  const named = new URL(url);
  named.searchParams.set('application_name', applicationName);
  return named.toString();
}

/**
 * Waits until a backend of `applicationName` sits in an open transaction whose last statement
 * touched `relation` (the store's transaction writing a table, while the source reads the network
 * for more), then ends it the way a server restart or an administrator does (pg_terminate_backend,
 * SQLSTATE 57P01). Resolves with the pid ended; rejects when `stop` says there is no point waiting.
 */
export function terminateTransaction(applicationName: string, relation: string, stop: () => string | undefined, url: string = PG_URL): Promise<number> {
  return findTransaction(applicationName, relation, stop, url, true);
}

/** Waits, as terminateTransaction does, for such a transaction to be open, and resolves with its backend's pid. */
export function openTransaction(applicationName: string, relation: string, stop: () => string | undefined, url: string = PG_URL): Promise<number> {
  return findTransaction(applicationName, relation, stop, url, false);
}

async function findTransaction(applicationName: string, relation: string, stop: () => string | undefined, url: string, terminate: boolean): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    for (;;) {
      const result = await admin.query<{ pid: number; done: boolean }>(
        `SELECT pid, ${terminate ? 'pg_terminate_backend(pid)' : 'true'} AS done FROM pg_stat_activity
          WHERE application_name = $1 AND state = 'idle in transaction' AND position($2 in query) > 0`,
        [applicationName, relation],
      );
      const found = result.rows.find((row) => row.done);
      if (found) return found.pid;
      const reason = stop();
      if (reason !== undefined) throw new Error(`no transaction of ${applicationName} on ${relation}${terminate ? ' to terminate' : ''}: ${reason}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await admin.end();
  }
}
