import { afterAll, describe, it } from 'vitest';
import type { Store } from '../../../src/store/store.js';
import { MSSQL_URL, dropMssqlSchemas, openMssqlStore, randomMssqlSchema, runMssql } from '../../helpers/mssql.js';
import { describeDeliveryContract } from '../delivery-contract.js';
import { describeStoreContract } from '../store-contract.js';

/**
 * The store and delivery contracts, unchanged, against a real SQL Server when MSSQL_URL is set. None can run
 * where this project is built (no server package, no container runtime): the run says so instead
 * of passing silently. What is verified without one is in mssql-wire.test.ts (the fake TDS server).
 */

if (MSSQL_URL === undefined) {
  console.warn('SKIPPED: SQL Server store contract (set MSSQL_URL=mssql://user:password@host:1433/database to run it against a real server)');
  describe.skip('SQL Server store contract (skipped: MSSQL_URL is not set)', () => {
    it('store contract', () => undefined);
  });
} else {
  const schemas: string[] = [];
  const storeSchemas = new Map<Store, string>();
  afterAll(() => dropMssqlSchemas(schemas));
  const freshStore = async () => {
    const schema = randomMssqlSchema();
    schemas.push(schema);
    const store = await openMssqlStore(schema);
    storeSchemas.set(store, schema);
    return store;
  };
  describeStoreContract('SQL Server', freshStore);
  describeDeliveryContract('SQL Server', freshStore, (store, table, column) => runMssql(`ALTER TABLE [${storeSchemas.get(store) ?? ''}].[${table}] DROP COLUMN [${column}]`));
}
