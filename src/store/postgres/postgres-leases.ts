import pg from 'pg';
import type { Logger } from 'pino';

/**
 * Stream leases across daemons: a session-level advisory lock per stream, all held on one
 * dedicated connection for as long as the runs last. If that connection dies the server frees
 * the locks, another daemon may take the streams, and the epoch in sync_state fences the old
 * runs' commits. Session locks stack within one session, so runs inside this process are kept
 * apart by the in-process set as well.
 */
export class PostgresLeaseLocks {
  private connection: Promise<pg.Client> | undefined;
  private readonly held = new Set<string>();

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
      const client = await this.client();
      const result = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [this.lockName(streamId)]);
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
    const connection = this.connection;
    if (!connection) return;
    const client = await connection.catch(() => undefined);
    // A lost connection already released the lock on the server.
    await client?.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.lockName(streamId)]).catch(() => undefined);
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.held.clear();
    const client = await connection?.catch(() => undefined);
    await client?.end().catch(() => undefined);
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
