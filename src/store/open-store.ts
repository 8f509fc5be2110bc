import type { Logger } from 'pino';
import type { MssqlStoreOptions } from './mssql/mssql-store.js';
import type { Store } from './store.js';

/** The `store` section of the config (src/config/schema.ts StoreConfig has this shape). */
export type StoreSettings =
  | { readonly engine: 'sqlite'; readonly path: string }
  | { readonly engine: 'postgres'; readonly url: string; readonly schema?: string | undefined }
  | ({ readonly engine: 'mssql' } & MssqlSettings);

/** SQL Server's connection: a URL and/or its parts (fields win). */
export interface MssqlSettings {
  readonly url?: string | undefined;
  readonly server?: string | undefined;
  readonly port?: number | undefined;
  readonly database?: string | undefined;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly encrypt?: boolean | undefined;
  readonly trustServerCertificate?: boolean | undefined;
  readonly schema?: string | undefined;
}

export interface OpenStoreOptions {
  /** For `status` while a daemon runs: no instance lock, writes refused. */
  readonly readOnly?: boolean;
  readonly log?: Logger;
}

/**
 * Builds the configured engine and opens it (migrations, and the instance lock where the engine has one).
 * Only that engine's module and driver are loaded: the SQL Server driver alone costs a CLI call a
 * third of a second of start-up.
 */
export async function openStore(settings: StoreSettings, options: OpenStoreOptions = {}): Promise<Store> {
  let store: Store;
  switch (settings.engine) {
    case 'sqlite': {
      const { SqliteStore } = await import('./sqlite/sqlite-store.js');
      store = new SqliteStore({ path: settings.path, readOnly: options.readOnly ?? false, ...(options.log ? { log: options.log } : {}) });
      break;
    }
    case 'postgres': {
      const { PostgresStore } = await import('./postgres/postgres-store.js');
      store = new PostgresStore({
        url: settings.url,
        ...(settings.schema ? { schema: settings.schema } : {}),
        readOnly: options.readOnly ?? false,
        ...(options.log ? { log: options.log } : {}),
      });
      break;
    }
    case 'mssql': {
      const { MssqlStore } = await import('./mssql/mssql-store.js');
      store = new MssqlStore({ ...definedOnly(settings), readOnly: options.readOnly ?? false, ...(options.log ? { log: options.log } : {}) });
      break;
    }
    default:
      throw new Error(`unknown store engine ${JSON.stringify((settings as { engine: unknown }).engine)}`);
  }
  await store.open();
  return store;
}

/** The connection fields that were given (exactOptionalPropertyTypes: an absent field is left out, not undefined). */
function definedOnly(settings: MssqlSettings): MssqlStoreOptions {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings)) if (value !== undefined && key !== 'engine') options[key] = value;
  return options;
}
