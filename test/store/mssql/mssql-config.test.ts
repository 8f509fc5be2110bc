import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { mssqlConfig } from '../../../src/store/mssql/mssql-config.js';
import { openStore } from '../../../src/store/open-store.js';
import { testKind } from '../../helpers/test-source.js';
import { FakeTdsServer } from '../../helpers/fake-tds-server.js';

const kinds = [testKind({ units: 1 })];

describe('SQL Server store configuration', () => {
  it('takes a URL with the password from the environment, kept as a secret', () => {
    const { config, secrets } = parseConfig(
      JSON.stringify({ store: { engine: 'mssql', url: 'mssql://sync:${MSSQL_PASSWORD}@db.example:1433/mirror?trustServerCertificate=true', schema: 'dss' }, jobs: [] }),
      'sync.config.json',
      kinds,
      { MSSQL_PASSWORD: 'p@ss/word' },
    );
    expect(secrets).toEqual(['p@ss/word']);
    expect(config.store).toEqual({ engine: 'mssql', url: 'mssql://sync:p@ss/word@db.example:1433/mirror?trustServerCertificate=true', schema: 'dss' });
  });

  it('refuses a store with neither url nor server, naming the path', () => {
    let problems: readonly string[] = [];
    try {
      parseConfig(JSON.stringify({ store: { engine: 'mssql', database: 'mirror' }, jobs: [] }), 'sync.config.json', kinds, {});
    } catch (error) {
      if (error instanceof ConfigError) problems = error.problems;
    }
    expect(problems).toEqual(['store: give a url or a server']);
  });

  it('reads the parts of a URL, percent-decoded, and lets fields override them; XACT_ABORT is always on', () => {
    const config = mssqlConfig({ url: 'sqlserver://sync:p%40ss%2Fword@db.example:14330/mirror?encrypt=false&instanceName=SQLEXPRESS', database: 'other' });
    expect(config).toMatchObject({
      server: 'db.example',
      port: 14330,
      database: 'other',
      user: 'sync',
      password: 'p@ss/word',
      options: { encrypt: false, trustServerCertificate: false, abortTransactionOnError: true, instanceName: 'SQLEXPRESS' },
    });
    expect(mssqlConfig({ server: 'db' }).options).toMatchObject({ encrypt: true, abortTransactionOnError: true });
  });

  it('refuses a URL it cannot read without showing the password', () => {
    expect(() => mssqlConfig({ url: 'postgres://sync:hunter2@db/mirror' })).toThrow('url scheme postgres: is not mssql: or sqlserver:');
    expect(() => mssqlConfig({ url: 'mssql://sync:hunter2@db/mirror?encrypt=yes' })).toThrow('url parameter encrypt must be true or false');
    expect(() => mssqlConfig({ url: 'mssql://sync:hunter2@db/mirror?ssl=true' })).toThrow(/unknown url parameter ssl/);
    for (const url of ['mssql://sync:hunter2@db/mirror?encrypt=yes', 'mssql://sync:hunter2@db/mirror?ssl=true', 'not a url hunter2']) {
      try {
        mssqlConfig({ url });
      } catch (error) {
        expect((error as Error).message).not.toContain('hunter2');
      }
    }
  });

  it('opens the configured engine from the store settings', async () => {
    const server = new FakeTdsServer();
    const port = await server.listen();
    const store = await openStore({ engine: 'mssql', server: '127.0.0.1', port, user: 'sync', password: 'x', encrypt: false, schema: 'dss' });
    try {
      expect(store.engine).toBe('mssql');
      expect(server.statements().some((sql) => sql.startsWith('CREATE TABLE [dss].[sync_state]'))).toBe(true);
    } finally {
      await store.close();
      await server.close();
    }
  });
});
