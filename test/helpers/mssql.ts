import sql from 'mssql';
import { mssqlConfig } from '../../src/store/mssql/mssql-config.js';
import { MssqlStore } from '../../src/store/mssql/mssql-store.js';

/**
 * A real SQL Server for the store contract and the convergence property: MSSQL_URL
 * (mssql://user:password@host:1433/database?trustServerCertificate=true). No SQL Server can run on
 * the machines this project is built on, so without it those tests are skipped, visibly; the
 * engine's own tests run against the fake TDS server (test/helpers/fake-tds-server.ts) always.
 */
export const MSSQL_URL = process.env.MSSQL_URL;

/** A schema name no other test run uses. */
export function randomMssqlSchema(prefix = 'dss_test'): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
}

/** A store in a schema of its own on MSSQL_URL's server, opened. */
export async function openMssqlStore(schema: string): Promise<MssqlStore> {
  if (MSSQL_URL === undefined) throw new Error('MSSQL_URL is not set');
  const store = new MssqlStore({ url: MSSQL_URL, schema, poolSize: 4 });
  await store.open();
  return store;
}

/** Runs statements on MSSQL_URL's server on a connection of their own (what the store under test cannot see coming). */
export async function runMssql(statement: string): Promise<void> {
  await withMssqlPool((pool) => pool.request().batch(statement));
}

async function withMssqlPool(work: (pool: sql.ConnectionPool) => Promise<unknown>): Promise<void> {
  if (MSSQL_URL === undefined) throw new Error('MSSQL_URL is not set');
  const pool = new sql.ConnectionPool(mssqlConfig({ url: MSSQL_URL }));
  await pool.connect();
  try {
    await work(pool);
  } finally {
    await pool.close();
  }
}

/** Drops the schemas with their views and tables. */
export async function dropMssqlSchemas(schemas: readonly string[]): Promise<void> {
  if (MSSQL_URL === undefined || schemas.length === 0) return;
  await withMssqlPool(async (pool) => {
    for (const schema of schemas) {
      await pool
        .request()
        .input('schema', sql.NVarChar(128), schema)
        .batch(
          `DECLARE @drop NVARCHAR(MAX) = N'';
           SELECT @drop += N'DROP ' + CASE o.type WHEN 'V' THEN N'VIEW ' ELSE N'TABLE ' END + QUOTENAME(s.name) + N'.' + QUOTENAME(o.name) + N'; '
             FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id WHERE s.name = @schema AND o.type IN ('V', 'U') ORDER BY CASE o.type WHEN 'V' THEN 0 ELSE 1 END;
           EXEC sp_executesql @drop;
           IF SCHEMA_ID(@schema) IS NOT NULL EXEC(N'DROP SCHEMA ' + QUOTENAME(@schema));`,
        );
    }
  });
}
