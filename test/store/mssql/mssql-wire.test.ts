import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { initialState } from '../../../src/core/sync-state.js';
import type { Cell, TableSpec } from '../../../src/core/tables.js';
import { MAX_PARAMETERS } from '../../../src/store/mssql/mssql-session.js';
import type { MssqlStore } from '../../../src/store/mssql/mssql-store.js';
import { LeaseLostError, StoreSchemaError } from '../../../src/store/store.js';
import type { FakeRequest, FakeTdsServer, Responder } from '../../helpers/fake-tds-server.js';
import { obsTable, openForEachTest, upsertObs } from '../store-setup.js';
import { outline, sentSince, storeOnFakeServer, type Bulk, type Rpc } from './fake-mssql.js';

/**
 * The SQL Server engine as the server sees it: statements, their declared parameters and values,
 * bulk loads and transaction requests, recorded by a fake TDS server (no SQL Server runs here;
 * test/store/mssql/mssql-server.test.ts runs the store contract against a real one when MSSQL_URL
 * is set). These tests pin what is sent, not what a server would do with it.
 */

const obs = obsTable('real');

function rows(count: number): Cell[][] {
  return Array.from({ length: count }, (_, index) => [`A${index}`, 'M', '2020', index, index % 2 === 0 ? null : 'E']);
}

const rpcs = (requests: readonly FakeRequest[]): Rpc[] => requests.filter((request): request is Rpc => request.kind === 'rpc');
const bulks = (requests: readonly FakeRequest[]): Bulk[] => requests.filter((request): request is Bulk => request.kind === 'bulk');

describe('SQL Server engine on the wire (fake TDS server)', () => {
  let server: FakeTdsServer;
  let store: MssqlStore;
  let base: Responder;
  let mark: number;
  openForEachTest(storeOnFakeServer, (opened) => {
    ({ server, store, base } = opened);
    mark = server.requests.length;
  });

  /** Requests since the test's last mark; the next call starts after them. */
  function sent(): FakeRequest[] {
    const requests = sentSince(server, mark);
    mark = server.requests.length;
    return requests;
  }

  it('connects with tedious 19 (20.x needs Node 22) and sets XACT_ABORT ON on every connection', () => {
    const tedious = createRequire(import.meta.url)('tedious/package.json') as { version: string };
    expect(tedious.version).toMatch(/^19\./);
    const logins = server.requests.filter((request) => request.kind === 'batch' && /^set ansi_nulls/.test(request.sql));
    expect(logins.length).toBeGreaterThan(0);
    for (const login of logins) expect(login.kind === 'batch' && login.sql).toMatch(/\bset xact_abort on\b/);
  });

  it('creates a table with its text key columns sized to fit a 900-byte clustered key, indexed text within 1,700 bytes', async () => {
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: { ...obs, indexes: [['OBS_STATUS', 'TIME_PERIOD']] } }]));
    const requests = sent();
    expect(outline(requests)).toEqual([
      'begin',
      'rpc EXEC @r =',
      'rpc SELECT spec FROM',
      'rpc SELECT RTRIM([type]) AS',
      'batch CREATE TABLE [mirror].[obs]',
      'batch IF NOT EXISTS',
      'rpc MERGE INTO [mirror].[dss_tables]',
      'commit',
    ]);
    const create = requests.find((request) => request.kind === 'batch' && request.sql.startsWith('CREATE TABLE'));
    // Three text key columns share 900 bytes: 150 characters each. The index's other text column takes what is left of 1,700.
    expect(create?.kind === 'batch' && create.sql).toBe(
      'CREATE TABLE [mirror].[obs] ([REF_AREA] NVARCHAR(150) COLLATE Latin1_General_100_BIN2 NOT NULL, [FREQ] NVARCHAR(150) COLLATE Latin1_General_100_BIN2 NOT NULL, ' +
        '[TIME_PERIOD] NVARCHAR(150) COLLATE Latin1_General_100_BIN2 NOT NULL, [OBS_VALUE] FLOAT NULL, [OBS_STATUS] NVARCHAR(700) COLLATE Latin1_General_100_BIN2 NULL, ' +
        'CONSTRAINT [obs_pk_a9da77d3] PRIMARY KEY CLUSTERED ([REF_AREA], [FREQ], [TIME_PERIOD]))',
    );
    // The DDL is serialised across daemons by a transaction-owned application lock on the table's name.
    const lock = rpcs(requests)[0];
    expect(lock?.sql).toContain("@LockOwner = N'Transaction'");
    expect(lock?.params.map((param) => param.value)).toEqual(['dataspace-sync:relation:mirror:obs']);
  });

  it('adopts a table it did not create when SQL Server\'s catalog describes the same shape, and refuses one that differs', async () => {
    const legacy: TableSpec = { name: 'legacy', columns: [{ name: 'id', type: 'integer' }, { name: 'label', type: 'text' }], primaryKey: ['id'] };
    let labelType = 'nvarchar';
    const introspected: unknown[] = [];
    server.respond = (request) => {
      if (request.kind !== 'rpc') return base(request);
      if (request.sql.startsWith('SELECT RTRIM([type])')) return { rows: [{ type: 'U' }] };
      if (request.sql.includes('is_primary_key')) return { rows: [{ name: 'id' }] };
      if (request.sql.includes('FROM sys.columns c')) {
        introspected.push(request.params[0]?.value);
        return { rows: [{ name: 'id', type: 'bigint', nullable: false }, { name: 'label', type: labelType, nullable: true }] };
      }
      return base(request);
    };
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: legacy }]));
    const adopted = sent();
    expect(introspected).toEqual(['[mirror].[legacy]']);
    expect(adopted.some((request) => (request.kind === 'batch' || request.kind === 'rpc') && request.sql.startsWith('CREATE TABLE'))).toBe(false);
    expect(outline(adopted).slice(-2)).toEqual(['rpc MERGE INTO [mirror].[dss_tables]', 'commit']);
    labelType = 'float';
    await expect(store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: { ...legacy, name: 'other' } }]))).rejects.toThrow(
      /table other exists with a different shape: column label type real -> text/,
    );
  });

  it('refuses a key value longer than its column can hold, naming column and row, before sending it', async () => {
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }]));
    sent();
    const long = 'X'.repeat(151);
    await expect(store.transaction((tx) => tx.apply([upsertObs([['A', 'M', '2020', 1, null], ['A', long, '2020', 2, null]])]))).rejects.toThrow(
      new StoreSchemaError('table obs: column FREQ of row 1 holds 151 characters; on SQL Server this key column holds at most 150 (an index key is at most 900 bytes, 1,700 for a secondary index)'),
    );
    const requests = sent();
    expect(requests.some((request) => request.kind === 'rpc' && request.sql.includes('MERGE INTO [mirror].[obs]'))).toBe(false);
    expect(requests.at(-1)?.kind).toBe('rollback');
  });

  it('upserts rows that fit in one statement as one MERGE ... WITH (UPDLOCK, HOLDLOCK) over a VALUES list, every value bound and typed', async () => {
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }]));
    sent();
    await store.transaction((tx) => tx.apply([upsertObs([['A', 'M', '2020', 1.5, null], ['B', 'M', '2020', -2, 'E']])]));
    const merges = rpcs(sent()).filter((request) => request.sql.includes('MERGE'));
    expect(merges).toHaveLength(1);
    const [merge] = merges;
    expect(merge?.sql).toBe(
      'DECLARE @n INT; MERGE INTO [mirror].[obs] WITH (UPDLOCK, HOLDLOCK) AS [t] USING (VALUES (@p1, @p2, @p3, @p4, @p5), (@p6, @p7, @p8, @p9, @p10)) ' +
        'AS [s] ([REF_AREA], [FREQ], [TIME_PERIOD], [OBS_VALUE], [OBS_STATUS]) ON [t].[REF_AREA] = [s].[REF_AREA] AND [t].[FREQ] = [s].[FREQ] AND [t].[TIME_PERIOD] = [s].[TIME_PERIOD] ' +
        'WHEN MATCHED THEN UPDATE SET [OBS_VALUE] = [s].[OBS_VALUE], [OBS_STATUS] = [s].[OBS_STATUS] ' +
        'WHEN NOT MATCHED BY TARGET THEN INSERT ([REF_AREA], [FREQ], [TIME_PERIOD], [OBS_VALUE], [OBS_STATUS]) VALUES ([s].[REF_AREA], [s].[FREQ], [s].[TIME_PERIOD], [s].[OBS_VALUE], [s].[OBS_STATUS]); ' +
        'SET @n = @@ROWCOUNT; SELECT @n AS [n];',
    );
    expect(merge?.declarations).toBe(
      '@p1 nvarchar(max), @p2 nvarchar(max), @p3 nvarchar(max), @p4 float, @p5 nvarchar(max), @p6 nvarchar(max), @p7 nvarchar(max), @p8 nvarchar(max), @p9 float, @p10 nvarchar(max)',
    );
    expect(merge?.params.map((param) => param.value)).toEqual(['A', 'M', '2020', 1.5, null, 'B', 'M', '2020', -2, 'E']);
    expect(merge?.transaction).toBeDefined();
  });

  it('writes only the given columns: an omitted cell is not in the statement, and "newer wins" guards the update', async () => {
    const items: TableSpec = { name: 'items', columns: [{ name: 'id', type: 'text' }, { name: 'modified', type: 'integer' }, { name: 'data', type: 'json' }], primaryKey: ['id'] };
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: items }]));
    sent();
    await store.transaction((tx) =>
      tx.apply([{ op: 'upsert', table: 'items', columns: ['id', 'modified', 'data'], rows: [['x', 2n ** 60n, undefined]], unlessStoredNewer: 'modified' }]),
    );
    const [merge] = rpcs(sent()).filter((request) => request.sql.includes('MERGE'));
    expect(merge?.sql).toContain('USING (VALUES (@p1, @p2)) AS [s] ([id], [modified])');
    expect(merge?.sql).toContain('WHEN MATCHED AND ([t].[modified] IS NULL OR [s].[modified] >= [t].[modified]) THEN UPDATE SET [modified] = [s].[modified]');
    expect(merge?.sql).not.toContain('[data]');
    expect(merge?.declarations).toBe('@p1 nvarchar(max), @p2 bigint');
    // 64-bit integers travel exactly.
    expect(merge?.params.map((param) => param.value)).toEqual(['x', String(2n ** 60n)]);
  });

  it('bulk loads rows that need more than one statement into #dss_rows on the transaction\'s connection, then dedupes and MERGEs them set-based', async () => {
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }]));
    sent();
    const many = rows(1000);
    // A key given twice: the later row must win.
    many.push(['A0', 'M', '2020', 99, 'late']);
    await store.transaction((tx) => tx.apply([upsertObs(many)]));
    const requests = sent();
    expect(outline(requests)).toEqual([
      'begin',
      'rpc SELECT spec FROM',
      // The table's row digests, if a snapshot kept any: another write makes them untrue.
      'batch DROP TABLE IF',
      'batch DROP TABLE IF',
      'batch insert bulk [#dss_rows]([REF_AREA]',
      'bulk 1001 rows',
      'batch WITH [d] AS',
      'commit',
    ]);
    const transaction = requests[0]?.transaction;
    expect(requests.every((request) => request.transaction === transaction)).toBe(true);
    expect(new Set(requests.map((request) => request.connection)).size).toBe(1);
    const create = requests[3];
    expect(create?.kind === 'batch' && create.sql).toBe(
      'DROP TABLE IF EXISTS #dss_rows; CREATE TABLE #dss_rows ([REF_AREA] NVARCHAR(MAX) COLLATE Latin1_General_100_BIN2 NULL, [FREQ] NVARCHAR(MAX) COLLATE Latin1_General_100_BIN2 NULL, ' +
        '[TIME_PERIOD] NVARCHAR(MAX) COLLATE Latin1_General_100_BIN2 NULL, [OBS_VALUE] FLOAT NULL, [OBS_STATUS] NVARCHAR(MAX) COLLATE Latin1_General_100_BIN2 NULL, [dss_seq] INT NOT NULL)',
    );
    const [bulk] = bulks(requests);
    // Declared exactly as the #temp table's columns, as the server requires of a bulk load.
    expect(bulk?.columns).toEqual([
      { name: 'REF_AREA', wireType: 'NVarChar', length: 65535, nullable: true },
      { name: 'FREQ', wireType: 'NVarChar', length: 65535, nullable: true },
      { name: 'TIME_PERIOD', wireType: 'NVarChar', length: 65535, nullable: true },
      { name: 'OBS_VALUE', wireType: 'FloatN', length: 8, nullable: true },
      { name: 'OBS_STATUS', wireType: 'NVarChar', length: 65535, nullable: true },
      { name: 'dss_seq', wireType: 'IntN', length: 4, nullable: false },
    ]);
    expect(bulk?.rows[1]).toEqual(['A1', 'M', '2020', 1, 'E', 1]);
    expect(bulk?.rows[1000]).toEqual(['A0', 'M', '2020', 99, 'late', 1000]);
    const apply = requests[6];
    expect(apply?.kind === 'batch' && apply.sql).toBe(
      'DECLARE @n INT; WITH [d] AS (SELECT ROW_NUMBER() OVER (PARTITION BY [REF_AREA], [FREQ], [TIME_PERIOD] ORDER BY [dss_seq] DESC) AS [rn] FROM #dss_rows) DELETE FROM [d] WHERE [rn] > 1; ' +
        'MERGE INTO [mirror].[obs] WITH (UPDLOCK, HOLDLOCK) AS [t] USING #dss_rows AS [s] ON [t].[REF_AREA] = [s].[REF_AREA] AND [t].[FREQ] = [s].[FREQ] AND [t].[TIME_PERIOD] = [s].[TIME_PERIOD] ' +
        'WHEN MATCHED THEN UPDATE SET [OBS_VALUE] = [s].[OBS_VALUE], [OBS_STATUS] = [s].[OBS_STATUS] ' +
        'WHEN NOT MATCHED BY TARGET THEN INSERT ([REF_AREA], [FREQ], [TIME_PERIOD], [OBS_VALUE], [OBS_STATUS]) VALUES ([s].[REF_AREA], [s].[FREQ], [s].[TIME_PERIOD], [s].[OBS_VALUE], [s].[OBS_STATUS]); ' +
        'SET @n = @@ROWCOUNT; DROP TABLE #dss_rows; SELECT @n AS [n];',
    );
  });

  it('never sends a statement with more than 2,100 parameters, whatever the batch', async () => {
    const wide: TableSpec = { name: 'wide', columns: Array.from({ length: 7 }, (_, index) => ({ name: `c${index}`, type: 'integer' as const })), primaryKey: ['c0'] };
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: wide }, { op: 'ensureTable', spec: obs }]));
    sent();
    const wideRows = (count: number): Cell[][] => Array.from({ length: count }, (_, r) => Array.from({ length: 7 }, (_, c) => r * 10 + c));
    // 299 rows x 7 = 2,093 parameters: one statement. 300 rows: 2,100, too many: bulk.
    await store.transaction((tx) => tx.apply([{ op: 'upsert', table: 'wide', columns: wide.columns.map((column) => column.name), rows: wideRows(299) }]));
    const fits = sent();
    expect(rpcs(fits).filter((request) => request.sql.includes('MERGE')).map((request) => request.params.length)).toEqual([2093]);
    await store.transaction((tx) => tx.apply([{ op: 'upsert', table: 'wide', columns: wide.columns.map((column) => column.name), rows: wideRows(300) }]));
    expect(outline(sent())).toContain('bulk 300 rows');
    // Keys repeated within one statement's worth of rows are split over statements, in order (MERGE refuses two rows for one key).
    await store.transaction((tx) => tx.apply([upsertObs([['A', 'M', '1', 1, null], ['B', 'M', '1', 2, null], ['A', 'M', '1', 3, null]])]));
    expect(rpcs(sent()).filter((request) => request.sql.includes('MERGE')).map((request) => request.params.map((param) => param.value))).toEqual([
      ['A', 'M', '1', 1, null, 'B', 'M', '1', 2, null],
      ['A', 'M', '1', 3, null],
    ]);
    // 700 three-column keys would be 2,100 parameters: bulk loaded into #dss_keys instead.
    const keys = Array.from({ length: 700 }, (_, index) => ({ REF_AREA: `A${index}`, FREQ: 'M', TIME_PERIOD: '2020' }));
    await store.transaction((tx) => tx.apply([{ op: 'deleteWhere', table: 'obs', keys }]));
    const deletes = sent();
    expect(outline(deletes)).toContain('bulk 700 rows');
    for (const request of rpcs(server.requests)) expect(request.params.length + 2).toBeLessThanOrEqual(2100);
    expect(MAX_PARAMETERS).toBe(2098);
  });

  it('deletes by exact, partial (wildcard) and negated keys in one DELETE ... JOIN per key shape; an empty key deletes every row', async () => {
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }]));
    sent();
    await store.transaction((tx) =>
      tx.apply([
        {
          op: 'deleteWhere',
          table: 'obs',
          keys: [
            { REF_AREA: 'A', FREQ: 'M', TIME_PERIOD: '2020' },
            { FREQ: 'Q' },
            { FREQ: 'A' },
            { REF_AREA: { not: 'B' }, OBS_STATUS: null },
          ],
        },
        { op: 'deleteWhere', table: 'obs', keys: [{}] },
      ]),
    );
    const deletes = rpcs(sent())
      .filter((request) => request.sql.includes('DELETE'))
      .map((request) => ({ sql: request.sql, declarations: request.declarations, values: request.params.map((param) => param.value) }));
    const batches = sent().filter((request) => request.kind === 'batch' && request.sql.includes('DELETE'));
    expect(batches).toEqual([]);
    expect(deletes).toEqual([
      {
        sql:
          'DECLARE @n INT; DELETE [t] FROM [mirror].[obs] AS [t] JOIN (VALUES (@p1, @p2, @p3)) AS [k] ([c0], [c1], [c2]) ' +
          'ON [t].[REF_AREA] = [k].[c0] AND [t].[FREQ] = [k].[c1] AND [t].[TIME_PERIOD] = [k].[c2]; SET @n = @@ROWCOUNT; SELECT @n AS [n];',
        declarations: '@p1 nvarchar(max), @p2 nvarchar(max), @p3 nvarchar(max)',
        values: ['A', 'M', '2020'],
      },
      {
        sql: 'DECLARE @n INT; DELETE [t] FROM [mirror].[obs] AS [t] JOIN (VALUES (@p1), (@p2)) AS [k] ([c0]) ON [t].[FREQ] = [k].[c0]; SET @n = @@ROWCOUNT; SELECT @n AS [n];',
        declarations: '@p1 nvarchar(max), @p2 nvarchar(max)',
        values: ['Q', 'A'],
      },
      {
        sql: 'DECLARE @n INT; DELETE [t] FROM [mirror].[obs] AS [t] JOIN (VALUES (@p1)) AS [k] ([c0]) ON [t].[REF_AREA] <> [k].[c0] WHERE [t].[OBS_STATUS] IS NULL; SET @n = @@ROWCOUNT; SELECT @n AS [n];',
        declarations: '@p1 nvarchar(max)',
        values: ['B'],
      },
    ]);
    // The empty key has nothing to bind: a plain batch.
    const all = server.requests.filter((request) => request.kind === 'batch' && request.sql.includes('DELETE [t]'));
    expect(all.map((request) => request.kind === 'batch' && request.sql)).toEqual(['DECLARE @n INT; DELETE [t] FROM [mirror].[obs] AS [t]; SET @n = @@ROWCOUNT; SELECT @n AS [n];']);
  });

  it('sets columns to NULL and prunes with UPDATE/DELETE ... JOIN on the keys', async () => {
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }]));
    sent();
    await store.transaction((tx) =>
      tx.apply([
        { op: 'setNull', table: 'obs', keys: [{ REF_AREA: 'A' }], columns: ['OBS_STATUS'] },
        { op: 'prune', table: 'obs', keys: [{ REF_AREA: 'A' }], valueColumns: ['OBS_VALUE', 'OBS_STATUS'] },
      ]),
    );
    expect(rpcs(sent()).map((request) => request.sql).filter((text) => /UPDATE \[t\]|DELETE \[t\]/.test(text))).toEqual([
      'DECLARE @n INT; UPDATE [t] SET [OBS_STATUS] = NULL FROM [mirror].[obs] AS [t] JOIN (VALUES (@p1)) AS [k] ([c0]) ON [t].[REF_AREA] = [k].[c0]; SET @n = @@ROWCOUNT; SELECT @n AS [n];',
      'DECLARE @n INT; DELETE [t] FROM [mirror].[obs] AS [t] JOIN (VALUES (@p1)) AS [k] ([c0]) ON [t].[REF_AREA] = [k].[c0] WHERE [t].[OBS_VALUE] IS NULL AND [t].[OBS_STATUS] IS NULL; SET @n = @@ROWCOUNT; SELECT @n AS [n];',
    ]);
  });

  it('replaces a table under a shadow name and renames it in with its key and indexes just before COMMIT', async () => {
    await store.transaction((tx) => tx.apply([{ op: 'replaceTable', spec: { ...obs, indexes: [['TIME_PERIOD']] } }, upsertObs([['A', 'M', '1', 1, null]])]));
    const requests = sent();
    const texts = requests.map((request) => (request.kind === 'batch' || request.kind === 'rpc' ? request.sql : request.kind));
    const shadow = /CREATE TABLE \[mirror\]\.\[(dss_new_[0-9a-f]+)\]/.exec(texts.find((text) => text.startsWith('CREATE TABLE')) ?? '')?.[1];
    expect(shadow).toBeDefined();
    // The rows of the full load go to the shadow; readers keep the old table until the commit.
    expect(texts.some((text) => text.includes(`MERGE INTO [mirror].[${shadow ?? ''}] WITH (UPDLOCK, HOLDLOCK)`))).toBe(true);
    expect(texts.some((text) => text.includes('MERGE INTO [mirror].[obs]'))).toBe(false);
    const commit = texts.indexOf('commit');
    expect(texts.slice(commit - 4, commit + 1)).toEqual([
      'DROP TABLE IF EXISTS [mirror].[obs]',
      `EXEC sp_rename N'[mirror].[${shadow ?? ''}]', N'obs', N'OBJECT'`,
      `EXEC sp_rename N'[mirror].[${shadow ?? ''}_pk_${/_pk_([0-9a-f]+)/.exec(texts.find((text) => text.startsWith('CREATE TABLE')) ?? '')?.[1] ?? ''}]', N'obs_pk_a9da77d3', N'OBJECT'`,
      expect.stringMatching(new RegExp(`^EXEC sp_rename N'\\[mirror\\]\\.\\[obs\\]\\.\\[${shadow ?? ''}_ix_[0-9a-f]+\\]', N'obs_ix_[0-9a-f]+', N'INDEX'$`)),
      'commit',
    ]);
  });

  it('stages a snapshot in a #temp table of the transaction and applies the difference set-based, then drops it', async () => {
    const items: TableSpec = { name: 'items', columns: [{ name: 'id', type: 'text' }, { name: 'doc', type: 'json' }, { name: 'gone', type: 'integer' }], primaryKey: ['id'] };
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: items }]));
    sent();
    await store.transaction((tx) =>
      tx.apply([
        { op: 'beginStaging', table: 'items', columns: ['id', 'doc'] },
        { op: 'stageRows', table: 'items', rows: [['a', '{}'], ['b', null]] },
        { op: 'applyStaged', table: 'items', staged: 'write', unstaged: { action: 'set', set: { gone: 1 } } },
      ]),
    );
    const requests = sent();
    const texts = requests.flatMap((request) => (request.kind === 'batch' || request.kind === 'rpc' ? [request.sql] : []));
    const stage = /#(dss_stage_[0-9a-f]+)/.exec(texts.join('\n'))?.[1] ?? '';
    expect(stage).not.toBe('');
    expect(texts.filter((text) => !text.startsWith('SELECT spec') && !text.includes('sp_getapplock'))).toEqual([
      `DROP TABLE IF EXISTS #${stage}`,
      `CREATE TABLE #${stage} ([id] NVARCHAR(450) COLLATE Latin1_General_100_BIN2 NOT NULL, [doc] NVARCHAR(MAX) COLLATE Latin1_General_100_BIN2 NULL, PRIMARY KEY ([id]))`,
      expect.stringContaining(`MERGE INTO #${stage} WITH (UPDLOCK, HOLDLOCK) AS [t] USING (VALUES (@p1, @p2), (@p3, @p4))`),
      expect.stringMatching(/^DROP TABLE IF EXISTS \[mirror\]\.\[dss_digest_[0-9a-f]{24}\]$/),
      `UPDATE [mirror].[items] SET [gone] = @p1 WHERE NOT EXISTS (SELECT 1 FROM #${stage} AS "stg" WHERE "stg".[id] = [mirror].[items].[id])`,
      // Only rows whose staged cells differ, NULLs and trailing spaces included.
      `UPDATE [mirror].[items] SET [doc] = "stg".[doc] FROM #${stage} AS "stg" WHERE "stg".[id] = [mirror].[items].[id] AND ` +
        '(([mirror].[items].[doc] <> "stg".[doc] OR DATALENGTH([mirror].[items].[doc]) <> DATALENGTH("stg".[doc]) OR ([mirror].[items].[doc] IS NULL AND "stg".[doc] IS NOT NULL) OR ([mirror].[items].[doc] IS NOT NULL AND "stg".[doc] IS NULL)))',
      `INSERT INTO [mirror].[items] ([id], [doc]) SELECT "stg".[id], "stg".[doc] FROM #${stage} AS "stg" WHERE NOT EXISTS (SELECT 1 FROM [mirror].[items] WHERE "stg".[id] = [mirror].[items].[id])`,
      `DROP TABLE IF EXISTS #${stage}`,
    ]);
    // The #temp table is made in a plain batch, so that it outlives the statement (one made by sp_executesql would not).
    expect(requests.filter((request) => (request.kind === 'batch' || request.kind === 'rpc') && request.sql.startsWith('CREATE TABLE #')).map((request) => request.kind)).toEqual(['batch']);
    expect(new Set(requests.map((request) => request.transaction)).size).toBe(1);
  });

  it('keeps row digests of a snapshot in a digest table, then loads them page by page and writes only the row whose digest differs', async () => {
    const items: TableSpec = { name: 'items', columns: [{ name: 'id', type: 'text' }, { name: 'doc', type: 'text' }], primaryKey: ['id'] };
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: items }]));
    sent();
    const snapshot = (rows: string[][]) =>
      store.transaction((tx) =>
        tx.apply([{ op: 'beginSnapshot', table: 'items', columns: ['id', 'doc'] }, { op: 'snapshotRows', table: 'items', rows }, { op: 'applySnapshot', table: 'items' }]),
      );
    await snapshot([['a', 'one'], ['b', 'two']]);
    const texts = (requests: FakeRequest[]) => requests.flatMap((request) => (request.kind === 'batch' || request.kind === 'rpc' ? [request.sql] : [])).filter((text) => !text.startsWith('SELECT spec') && !text.includes('sp_getapplock'));
    const first = sent();
    const digest = /\[(dss_digest_[0-9a-f]{24})\]/.exec(texts(first).join('\n'))?.[1] ?? '';
    // No digests yet: the table's keys are read, the rows (new keys) MERGEd, and their digests inserted.
    expect(texts(first).map((text) => text.replace(/^DECLARE @n INT; /, '').split(' (')[0])).toEqual([
      'SELECT COUNT(*) AS [n] FROM [mirror].[items]',
      'SELECT RTRIM([type]) AS [type] FROM sys.objects WHERE [schema_id] = SCHEMA_ID(@p1) AND [name] = @p2',
      `DROP TABLE IF EXISTS [mirror].[${digest}]`,
      `CREATE TABLE [mirror].[${digest}]`,
      'SELECT [id] FROM [mirror].[items]',
      'MERGE INTO [mirror].[items] WITH',
      `INSERT INTO [mirror].[${digest}]`,
    ]);
    const written = rpcs(first).find((request) => request.sql.includes(`INSERT INTO [mirror].[${digest}]`));
    const values = (written?.params ?? []).map((param) => param.value);
    // (slot, key, digest) per row: slots in order (a BIGINT, sent as text), keys in the digest encoding.
    expect(values.filter((_, index) => index % 3 !== 2)).toEqual(['1', 's1:a', '2', 's1:b']);
    const digestRows = [0, 1].map((row) => ({ slot: Number(values[row * 3]), k: values[row * 3 + 1] as string, h: values[row * 3 + 2] as string }));

    server.respond = (request) => {
      const param = (index: number): unknown => (request.kind === 'rpc' ? request.params[index]?.value : undefined);
      if (request.sql.startsWith('SELECT COUNT(*)')) return { rows: [{ n: 2 }] };
      if (request.sql.startsWith('SELECT RTRIM([type])') && param(1) === digest) return { rows: [{ type: 'U' }] };
      if (request.sql.includes(`FROM [mirror].[${digest}] WHERE [slot] >`)) return Number(param(0)) === 0 ? { rows: digestRows } : { rows: [] };
      return base(request);
    };
    await snapshot([['a', 'one'], ['c', 'three']]);
    const second = sent();
    expect(texts(second).map((text) => text.replace(/^DECLARE @n INT; /, '').split(' (')[0]?.split(' USING')[0])).toEqual([
      'SELECT COUNT(*) AS [n] FROM [mirror].[items]',
      'SELECT RTRIM([type]) AS [type] FROM sys.objects WHERE [schema_id] = SCHEMA_ID(@p1) AND [name] = @p2',
      `SELECT TOP`,
      'MERGE INTO [mirror].[items] WITH',
      `INSERT INTO [mirror].[${digest}]`,
      expect.stringMatching(/^DELETE \[t\] FROM \[mirror\]\.\[items\]/),
      expect.stringMatching(new RegExp(`^DELETE \\[t\\] FROM \\[mirror\\]\\.\\[${digest}\\]`)),
    ]);
    expect(texts(second)[2]).toBe(`SELECT TOP (10000) [slot], [k], [h] FROM [mirror].[${digest}] WHERE [slot] > @p1 ORDER BY [slot]`);
    // Only the new row c is written ('a' has its digest); b, not given, is deleted.
    const merge = rpcs(second).find((request) => request.sql.includes('MERGE INTO [mirror].[items]'));
    expect(merge?.params.map((param) => param.value)).toEqual(['c', 'three']);
    const digestMerge = rpcs(second).find((request) => request.sql.includes(`INSERT INTO [mirror].[${digest}]`));
    expect(digestMerge?.params.map((param) => param.value).slice(0, 2)).toEqual(['3', 's1:c']);
  });

  it('writes the changes and the stream\'s state in one transaction on one connection, the epoch read under UPDLOCK, HOLDLOCK', async () => {
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }]));
    sent();
    await store.transaction(async (tx) => {
      await tx.apply([upsertObs([['A', 'M', '1', 1, null]]), { op: 'deleteWhere', table: 'obs', keys: [{ REF_AREA: 'B' }] }]);
      await tx.writeState({ ...initialState('s1', 'job', 'sdmx'), cursor: { updatedAfter: 'x' }, leaseEpoch: 3 });
    });
    const requests = sent();
    expect(outline(requests)).toEqual([
      'begin',
      'rpc SELECT spec FROM',
      'batch DROP TABLE IF',
      'rpc MERGE INTO [mirror].[obs]',
      'rpc DELETE [t] FROM',
      'rpc SELECT * FROM',
      'rpc MERGE INTO [mirror].[sync_state]',
      'commit',
    ]);
    const transaction = requests[0]?.transaction;
    expect(requests.every((request) => request.transaction === transaction && request.connection === requests[0]?.connection)).toBe(true);
    const [, , , read, state] = rpcs(requests);
    expect(read?.sql).toBe('SELECT * FROM [mirror].[sync_state] WITH (UPDLOCK, HOLDLOCK) WHERE [stream_id] = @p1');
    expect(state?.params.find((param) => param.value === '{"updatedAfter":"x"}')).toBeDefined();
  });

  it('rolls the changes and the state back together when the server refuses a statement (XACT_ABORT), and commits nothing', async () => {
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }]));
    sent();
    server.respond = (request) =>
      request.sql.includes('MERGE INTO [mirror].[sync_state]') ? { error: { number: 2627, message: 'Violation of PRIMARY KEY constraint' } } : base(request);
    const run = store.transaction(async (tx) => {
      await tx.apply([upsertObs([['A', 'M', '1', 1, null]])]);
      await tx.writeState({ ...initialState('s1', 'job', 'sdmx'), cursor: 'next' });
    });
    await expect(run).rejects.toThrow(/Violation of PRIMARY KEY constraint/);
    const requests = sent();
    expect(outline(requests)).toEqual(['begin', 'rpc SELECT spec FROM', 'batch DROP TABLE IF', 'rpc MERGE INTO [mirror].[obs]', 'rpc SELECT * FROM', 'rpc MERGE INTO [mirror].[sync_state]', 'rollback']);
    expect(requests.some((request) => request.kind === 'commit')).toBe(false);
    // The server rolled back the whole transaction at the failed statement (XACT_ABORT ON), not only that statement.
    expect(requests.at(-1)).toMatchObject({ kind: 'rollback', byServer: true });
    // The connection goes back to the pool and serves the next transaction.
    server.respond = base;
    await store.transaction((tx) => tx.writeState(initialState('s2', 'job', 'sdmx')));
    expect(outline(sent()).at(-1)).toBe('commit');
  });

  it('rolls back when the transaction\'s callback fails, sending ROLLBACK instead of COMMIT', async () => {
    await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: obs }]));
    sent();
    await expect(
      store.transaction(async (tx) => {
        await tx.apply([upsertObs([['A', 'M', '1', 1, null]])]);
        throw new Error('the source broke off');
      }),
    ).rejects.toThrow('the source broke off');
    expect(outline(sent())).toEqual(['begin', 'rpc SELECT spec FROM', 'batch DROP TABLE IF', 'rpc MERGE INTO [mirror].[obs]', 'rollback']);
  });

  it('refuses a state write whose lease epoch was superseded, and writes nothing of the transaction', async () => {
    server.respond = (request) =>
      request.sql.startsWith('SELECT * FROM [mirror].[sync_state]')
        ? { rows: [{ ...stateRow('s1'), lease_epoch: 5 }] }
        : base(request);
    await expect(store.transaction((tx) => tx.writeState({ ...initialState('s1', 'job', 'sdmx'), leaseEpoch: 4 }))).rejects.toBeInstanceOf(LeaseLostError);
    const requests = sent();
    expect(outline(requests)).toEqual(['begin', 'rpc SELECT * FROM', 'rollback']);
  });

  it('takes leases as transaction-owned application locks with no wait on a connection of their own, released one by one', async () => {
    const lease = await store.acquireLease('Stream-1', 'daemon-a');
    expect(lease?.epoch).toBe(1);
    // The same stream again in this process: refused without asking the server.
    expect(await store.acquireLease('Stream-1', 'daemon-b')).toBeUndefined();
    await lease?.release();
    const requests = sent();
    const locks = rpcs(requests).filter((request) => /applock/.test(request.sql));
    expect(locks.map((request) => request.sql)).toEqual([
      "DECLARE @r INT; EXEC @r = sp_getapplock @Resource = @p1, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 0; SELECT @r AS [r];",
      "IF APPLOCK_MODE(N'public', @p1, N'Transaction') <> N'NoLock' EXEC sp_releaseapplock @Resource = @p1, @LockOwner = N'Transaction'",
    ]);
    // Stream ids keep their case: "Stream-1" and "stream-1" are two streams.
    expect(locks.map((request) => request.params[0]?.value)).toEqual(['dataspace-sync:lease:mirror:Stream-1', 'dataspace-sync:lease:mirror:Stream-1']);
    const leaseConnection = locks[0]?.connection;
    expect(locks.every((request) => request.connection === leaseConnection && request.transaction !== undefined)).toBe(true);
    // The epoch is written by a transaction of the pool's, not on the lease connection.
    const epochWrite = rpcs(requests).find((request) => request.sql.includes('MERGE INTO [mirror].[sync_state]'));
    expect(epochWrite?.connection).not.toBe(leaseConnection);
    expect(epochWrite?.params.map((param) => param.value)).toEqual(['Stream-1', '', '', 'idle', 'daemon-a', '1']);

    // Another daemon holds it: sp_getapplock answers -1 at once.
    server.respond = (request) => (/sp_getapplock @Resource = @p1, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 0/.test(request.sql) ? { rows: [{ r: -1 }] } : base(request));
    expect(await store.acquireLease('Stream-1', 'daemon-a')).toBeUndefined();
    // Closing ends the lease transaction: the server frees every lock with it.
    await store.close();
    expect(sentSince(server, mark).filter((request) => request.connection === leaseConnection).map((request) => request.kind)).toEqual(['rpc', 'rollback']);
  });
});

function stateRow(streamId: string): Record<string, string | number | null> {
  return {
    stream_id: streamId,
    job_id: 'job',
    kind: 'sdmx',
    cursor: null,
    status: 'idle',
    last_attempt_at: null,
    last_success_at: null,
    last_change_at: null,
    consecutive_failures: 0,
    last_error: null,
    rows_upserted: 0,
    rows_deleted: 0,
    details: null,
    lease_owner: null,
    lease_epoch: 0,
  };
}
