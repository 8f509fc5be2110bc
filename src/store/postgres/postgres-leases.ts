import pg from 'pg';
import type { Logger } from 'pino';
import { AsyncMutex } from '../sql/async-mutex.js';

/**
 * Stream leases across daemons: a session-level advisory lock per stream, all held on one
 * dedicated connection for as long as the runs last. If that connection dies the server frees
 * the locks, another daemon may take the streams, and the epoch in sync_state fences the old
 * runs' commits. Session locks stack within one session, so runs inside this process are kept
 * apart by the in-process set as well.
 *
 * Streams take and release leases at the same moments, but a pg client runs one query at a time:
 * queries sent while another runs are queued by pg 8 with a deprecation warning, and refused by
 * pg 9. So they take turns here.
 */
export class PostgresLeaseLocks {
  private connection: Promise<pg.Client> | undefined;
  private readonly held = new Set<string>();
  private readonly turns = new AsyncMutex();

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly schema: string,
    private readonly log: Logger | undefined,
  ) {}

  /** True when this process now holds the stream's lock. */
  async tryLock(streamId: string): Promise<boolean> {
    if (this.held.has(streamId)) return false;
    this.held.add(streamId);
    try {
      const result = await this.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [this.lockName(streamId)]);
      if (result.rows[0]?.ok === true) return true;
    } catch (error) {
      this.held.delete(streamId);
      throw error;
    }
    this.held.delete(streamId);
    return false;
  }

  async unlock(streamId: string): Promise<void> {
    if (!this.held.delete(streamId)) return;
    if (!this.connection) return;
    // A lost connection already released the lock on the server.
    await this.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.lockName(streamId)], false).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.held.clear();
    // After the queries already waiting their turn.
    await this.turns.run(async () => {
      const connection = this.connection;
      this.connection = undefined;
      const client = await connection?.catch(() => undefined);
      await client?.end().catch(() => undefined);
    });
  }

  /** Runs a query on the lease connection once the queries before it are done; `connect` false: not on a new connection. */
  private query<R extends pg.QueryResultRow>(sql: string, values: unknown[], connect = true): Promise<pg.QueryResult<R>> {
    return this.turns.run(async () => {
      if (!connect && !this.connection) throw new Error('the lease connection is gone');
      const client = await this.client();
      return client.query<R>(sql, values);
    });
  }

  private lockName(streamId: string): string {
    return `dataspace-sync:lease:${this.schema}:${streamId}`;
  }

  private client(): Promise<pg.Client> {
    if (!this.connection) {
      const client = new pg.Client(this.config);
      client.on('error', (error) => {
        this.log?.warn({ err: error.message }, 'the lease connection to PostgreSQL failed: its locks are released on the server; running streams are fenced by their epoch');
        // `held` stays: the runs are still going here, and their commits are fenced by epoch.
        if (this.connection === attempt) this.connection = undefined;
      });
      const attempt = client.connect().then(() => client);
      attempt.catch(() => {
        if (this.connection === attempt) this.connection = undefined;
      });
      this.connection = attempt;
    }
    return this.connection;
  }
}
