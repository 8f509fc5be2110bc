import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { initialState } from '../../src/core/sync-state.js';
import type { TableSpec } from '../../src/core/tables.js';
import { postgresLeaseConnection } from '../../src/store/postgres/postgres-leases.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { LeaseLostError, type Store } from '../../src/store/store.js';
import { PG_URL, dropSchemas, postgresRequired, postgresUnavailable, randomSchemaName, terminateTransaction, urlNamed } from '../helpers/pg.js';
import { describeDeliveryContract } from './delivery-contract.js';
import { describeStoreContract } from './store-contract.js';

const unavailable = await postgresUnavailable();
const schemas: string[] = [];

async function openStore(schema: string): Promise<PostgresStore> {
  const store = new PostgresStore({ url: PG_URL, schema, poolSize: 4 });
  await store.open();
  return store;
}

if (unavailable && postgresRequired()) {
  describe('PostgreSQL store', () => {
    it('runs in CI', () => {
      throw new Error(`${unavailable}; CI=true requires the PostgreSQL store tests to run (set PGURL)`);
    });
  });
} else if (unavailable) {
  console.warn(`SKIPPED: PostgreSQL store tests (${unavailable}; set PGURL to run them)`);
  describe.skip(`PostgreSQL store (skipped: ${unavailable})`, () => {
    it('store contract', () => undefined);
  });
} else {
  afterAll(() => dropSchemas(schemas));

  const storeSchemas = new Map<Store, string>();
  describeDeliveryContract(
    'PostgreSQL',
    async () => {
      const schema = randomSchemaName();
      schemas.push(schema);
      const store = await openStore(schema);
      storeSchemas.set(store, schema);
      return store;
    },
    async (store, table, column) => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`ALTER TABLE "${storeSchemas.get(store) ?? ''}"."${table}" DROP COLUMN "${column}"`);
      } finally {
        await client.end();
      }
    },
  );

  describeStoreContract('PostgreSQL', async () => {
    const schema = randomSchemaName();
    schemas.push(schema);
    return openStore(schema);
  });

  describe('PostgreSQL store shared by several daemons', () => {
    it('migrates once when daemons start together on an empty schema', async () => {
      const schema = randomSchemaName();
      schemas.push(schema);
      const stores = await Promise.all([openStore(schema), openStore(schema), openStore(schema)]);
      try {
        await stores[1]?.transaction((tx) => tx.writeState(initialState('s', 'j', 'k')));
        expect(await stores[2]?.listStates()).toHaveLength(1);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });

    it('gives a stream lease to one daemon at a time and fences the superseded one', async () => {
      const schema = randomSchemaName();
      schemas.push(schema);
      const a = await openStore(schema);
      const b = await openStore(schema);
      try {
        const leaseA = await a.acquireLease('s1', 'daemon-a');
        expect(leaseA).toBeDefined();
        expect(await b.acquireLease('s1', 'daemon-b')).toBeUndefined();
        expect(await a.acquireLease('s1', 'daemon-a-again')).toBeUndefined();
        expect(await b.acquireLease('s2', 'daemon-b')).toBeDefined();
        await leaseA?.release();

        const leaseB = await b.acquireLease('s1', 'daemon-b');
        expect(leaseB?.epoch).toBe((leaseA?.epoch ?? 0) + 1);
        await expect(
          a.transaction((tx) => tx.writeState({ ...initialState('s1', 'j', 'k'), cursor: 'late', leaseOwner: 'daemon-a', leaseEpoch: leaseA?.epoch ?? 0 })),
        ).rejects.toBeInstanceOf(LeaseLostError);
        await b.transaction((tx) => tx.writeState({ ...initialState('s1', 'j', 'k'), cursor: 'b', leaseOwner: 'daemon-b', leaseEpoch: leaseB?.epoch ?? 0 }));
        expect((await a.readState('s1'))?.cursor).toBe('b');
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('opens read-only for status: reads work, writes and leases are refused', async () => {
      const schema = randomSchemaName();
      schemas.push(schema);
      await expect(new PostgresStore({ url: PG_URL, schema, readOnly: true }).open()).rejects.toThrow(/holds no dataspace-sync store yet/);
      const daemon = await openStore(schema);
      const reader = new PostgresStore({ url: PG_URL, schema, readOnly: true, poolSize: 2 });
      try {
        await daemon.transaction((tx) => tx.writeState({ ...initialState('s1', 'j', 'k'), cursor: { next: 'x' } }));
        await reader.open();
        expect((await reader.readState('s1'))?.cursor).toEqual({ next: 'x' });
        await expect(reader.transaction(() => Promise.resolve(undefined))).rejects.toThrow(/read-only/);
        await expect(reader.acquireLease('s1', 'status')).rejects.toThrow(/read-only/);
      } finally {
        await reader.close();
        await daemon.close();
      }
    });

    it('fails a transaction whose connection the server ended with that cause, rolls it back, and replaces the connection', async () => {
      const schema = randomSchemaName();
      schemas.push(schema);
      const application = `${schema}_tx`;
      const items: TableSpec = { name: 'items', columns: [{ name: 'id', type: 'integer' }, { name: 'v', type: 'text' }], primaryKey: ['id'] };
      const upsert = (id: number) => ({ op: 'upsert' as const, table: 'items', columns: ['id', 'v'], rows: [[id, `v${id}`]] });
      // Two connections: a dead one left in the pool would be handed out again below.
      const store = new PostgresStore({ url: urlNamed(application), schema, poolSize: 2 });
      await store.open();
      try {
        await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: items }]));
        let resume!: () => void;
        const network = new Promise<void>((resolve) => {
          resume = resolve;
        });
        let settled: string | undefined;
        const run = store.transaction(async (tx) => {
          await tx.apply([upsert(1)]);
          // The source waits for the network here, the transaction open and idle.
          await network;
          await tx.apply([upsert(2)]);
          await tx.writeState({ ...initialState('s1', 'j', 'k'), cursor: 'after' });
        });
        run.then(
          () => (settled = 'the transaction committed'),
          (error: unknown) => (settled = `the transaction failed: ${String(error)}`),
        );
        await terminateTransaction(application, '"items"', () => settled);
        resume();
        const failure = await run.then(
          () => undefined,
          (error: unknown) => error as Error,
        );
        expect(failure?.message).toMatch(/connection to PostgreSQL was lost in the middle of the transaction/);
        // The server's reason (57P01, or the socket closing under it) is the cause.
        expect(failure?.cause).toBeInstanceOf(Error);
        expect(await store.readTable('items')).toEqual([]);
        expect(await store.readState('s1')).toBeUndefined();
        // Every connection the pool hands out now works.
        await Promise.all([1, 2, 3, 4].map((id) => store.transaction((tx) => tx.apply([upsert(id)]))));
        expect(await store.readTable('items')).toHaveLength(4);
      } finally {
        await store.close();
      }
    });

    it('reports a lost lease connection once, though pg emits both the server\'s 57P01 and the socket\'s end', async () => {
      const application = `dss_lease_lost_${process.pid}`;
      const leases = postgresLeaseConnection({ connectionString: urlNamed(application) }, 'unused');
      const lost: string[] = [];
      const client = await leases.connect((error) => lost.push(error.message));
      const ended = new Promise((resolve) => client.once('end', resolve));
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        const ended = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [application]);
        expect(ended.rowCount).toBe(1);
      } finally {
        await admin.end();
      }
      // After 'end' the client emits nothing more.
      await ended;
      expect(lost).toHaveLength(1);
      expect(lost[0]).toMatch(/terminating connection due to administrator command/);
    });

    it('frees the leases of a daemon whose connection is gone', async () => {
      const schema = randomSchemaName();
      schemas.push(schema);
      const a = await openStore(schema);
      const b = await openStore(schema);
      try {
        expect(await a.acquireLease('s1', 'daemon-a')).toBeDefined();
        expect(await b.acquireLease('s1', 'daemon-b')).toBeUndefined();
        // Closing ends the lease connection without releasing, as a crash would.
        await a.close();
        expect(await b.acquireLease('s1', 'daemon-b')).toBeDefined();
      } finally {
        await b.close();
      }
    });
  });
}
