import pg from 'pg';
import type { LockConnection } from '../sql/stream-locks.js';

/**
 * Stream leases on PostgreSQL: a session-level advisory lock per stream, all on one dedicated
 * connection (sql/stream-locks.ts holds it, one query at a time: pg 8 warns when a query is sent
 * while another runs, pg 9 refuses it). If the connection dies the server frees the locks.
 */
export function postgresLeaseConnection(config: pg.ClientConfig, schema: string): LockConnection<pg.Client> {
  const lockName = (streamId: string): string => `dataspace-sync:lease:${schema}:${streamId}`;
  return {
    connect: async (lost) => {
      const client = new pg.Client(config);
      // pg emits the server's error (57P01 on a restart) and then, as the socket ends, "Connection
      // terminated unexpectedly": one loss, reported once.
      let reported = false;
      client.on('error', (error: Error) => {
        if (reported) return;
        reported = true;
        lost(error);
      });
      await client.connect();
      return client;
    },
    tryLock: async (client, streamId) => {
      const result = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [lockName(streamId)]);
      return result.rows[0]?.ok === true;
    },
    unlock: async (client, streamId) => {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockName(streamId)]);
    },
    end: (client) => client.end(),
  };
}
