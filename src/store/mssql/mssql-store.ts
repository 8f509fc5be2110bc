import type { Logger } from 'pino';
import { SqlStore } from '../sql/sql-store.js';
import { MssqlDriver } from './mssql-driver.js';

export interface MssqlStoreOptions {
  /** `mssql://user:secret@host:1433/database?encrypt=true&trustServerCertificate=false`; fields below override its parts. */
  readonly url?: string;
  readonly server?: string;
  readonly port?: number;
  readonly database?: string;
  readonly user?: string;
  readonly password?: string;
  /** TLS to the server (default true, as tedious). */
  readonly encrypt?: boolean;
  /** Accept a self-signed server certificate (default false). */
  readonly trustServerCertificate?: boolean;
  /** Schema holding the mirror and sync_state (created if missing); default "dbo". */
  readonly schema?: string;
  /** For `status`: no migration, writes refused. */
  readonly readOnly?: boolean;
  readonly log?: Logger;
  /** Connections in the pool (default 10): one per concurrent transaction, plus reads. */
  readonly poolSize?: number;
  /** Longest a statement or bulk load may run (default 10 minutes; the driver's own is 15 s). */
  readonly requestTimeoutMs?: number;
}

/**
 * The SQL Server store: the shared SQL store over the mssql (tedious) driver. Several daemons may
 * share one database; every commit of a stream's state is fenced by its lease epoch, read under
 * UPDLOCK, HOLDLOCK.
 */
export class MssqlStore extends SqlStore {
  constructor(options: MssqlStoreOptions) {
    super(new MssqlDriver(options));
  }
}
