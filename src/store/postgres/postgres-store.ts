import type { Logger } from 'pino';
import { SqlStore } from '../sql/sql-store.js';
import { PostgresDriver } from './postgres-driver.js';

export interface PostgresStoreOptions {
  /** Connection URL, e.g. postgres://user:secret@db:5432/mirror. */
  readonly url: string;
  /** Schema holding the mirror and sync_state (created if missing); default "public". */
  readonly schema?: string;
  /** For `status`: no migration, writes refused. */
  readonly readOnly?: boolean;
  readonly log?: Logger;
  /** Connections in the pool (default 10): one per concurrent transaction, plus reads. */
  readonly poolSize?: number;
}

/**
 * The shared store: the shared SQL store over the pg driver. Several daemons may share one
 * database; every commit of a stream's state is fenced by its lease epoch, read under a row lock.
 */
export class PostgresStore extends SqlStore {
  constructor(options: PostgresStoreOptions) {
    super(new PostgresDriver(options));
  }
}
