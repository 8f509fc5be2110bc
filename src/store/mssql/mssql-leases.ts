import sql from 'mssql';
import type { DriverRow } from '../sql/engine.js';
import type { LockConnection } from '../sql/stream-locks.js';
import { RELEASE_APPLOCK_SQL, applockGranted, applockResource, getApplockSql } from './mssql-applock.js';

interface LeaseConnection {
  readonly pool: sql.ConnectionPool;
  /** Open for as long as the connection: the application locks of the leases are owned by it. */
  readonly transaction: sql.Transaction;
}

/**
 * Stream leases on SQL Server: application locks owned by one transaction that a dedicated
 * connection keeps open, taken with a zero timeout (answer at once) and released one by one.
 * The transaction writes nothing, so it holds no log and blocks no reader; if the connection
 * dies the server rolls it back and every lock goes with it (sql/stream-locks.ts tells the rest).
 */
export function mssqlLeaseConnection(config: sql.config, schema: string): LockConnection<LeaseConnection> {
  const request = (connection: LeaseConnection, resource: string): sql.Request =>
    new sql.Request(connection.transaction).input('p1', sql.NVarChar(255), resource);
  return {
    connect: async (lost) => {
      // One error must not abort the transaction that holds every lease of the process.
      const pool = new sql.ConnectionPool({ ...config, pool: { min: 0, max: 1 }, options: { ...config.options, abortTransactionOnError: false } });
      await pool.connect();
      const transaction = new sql.Transaction(pool);
      try {
        await transaction.begin();
      } catch (error) {
        await pool.close().catch(() => undefined);
        throw error;
      }
      let ended = false;
      const end = (error: Error): void => {
        if (ended) return;
        ended = true;
        lost(error);
      };
      pool.on('error', (error: Error) => end(error));
      transaction.on('rollback', (aborted: boolean) => {
        if (aborted) end(new Error('the server rolled back the lease transaction'));
      });
      return { pool, transaction };
    },
    tryLock: async (connection, streamId) => {
      const resource = applockResource('lease', schema, streamId, false);
      const result = await request(connection, resource).query<DriverRow>(getApplockSql(0));
      return applockGranted(result.recordset, resource);
    },
    unlock: async (connection, streamId) => {
      await request(connection, applockResource('lease', schema, streamId, false)).query(RELEASE_APPLOCK_SQL);
    },
    end: async (connection) => {
      await connection.transaction.rollback().catch(() => undefined);
      await connection.pool.close();
    },
  };
}
