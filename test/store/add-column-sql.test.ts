import { describe, expect, it } from 'vitest';
import { mssqlDialect } from '../../src/store/mssql/mssql-dialect.js';
import { postgresDialect } from '../../src/store/postgres/postgres-dialect.js';
import { sqliteDialect } from '../../src/store/sqlite/sqlite-dialect.js';

/**
 * The statement that gives a table made by an earlier version a column of the store's own (the
 * delivered state's dss_uncertain), in each engine's syntax. SQLite and PostgreSQL run it in the
 * delivery contract; SQL Server only against a real server (MSSQL_URL), so its text is pinned here.
 */
describe('adding a nullable column to a table the store made', () => {
  const column = { name: 'dss_uncertain', type: 'integer' as const };

  it('writes ALTER TABLE … ADD COLUMN on SQLite and PostgreSQL, ALTER TABLE … ADD … NULL on SQL Server', () => {
    expect(sqliteDialect.addColumnSql('dss_delivered_x', column)).toBe('ALTER TABLE "dss_delivered_x" ADD COLUMN "dss_uncertain" INTEGER');
    expect(postgresDialect('mirror').addColumnSql('dss_delivered_x', column)).toBe('ALTER TABLE "mirror"."dss_delivered_x" ADD COLUMN "dss_uncertain" BIGINT');
    expect(mssqlDialect('mirror').addColumnSql('dss_delivered_x', column)).toBe('ALTER TABLE [mirror].[dss_delivered_x] ADD [dss_uncertain] BIGINT NULL');
  });
});
