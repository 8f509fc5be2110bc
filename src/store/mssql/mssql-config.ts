import type sql from 'mssql';
import type { MssqlStoreOptions } from './mssql-store.js';

const DEFAULT_REQUEST_TIMEOUT_MS = 600_000;

/**
 * The driver's configuration from a URL and/or fields (fields win). Every connection aborts its
 * transaction on the first error (SET XACT_ABORT ON, sent by the driver at login): with it off, a
 * failed statement may roll back alone while the transaction goes on to commit the rest.
 */
export function mssqlConfig(options: MssqlStoreOptions): sql.config {
  const url = options.url === undefined ? undefined : parseUrl(options.url);
  const server = options.server ?? url?.server;
  if (server === undefined || server === '') throw new Error('SQL Server store: give a url or a server');
  const port = options.port ?? url?.port;
  const database = options.database ?? url?.database;
  const user = options.user ?? url?.user;
  const password = options.password ?? url?.password;
  const instanceName = url?.instanceName;
  return {
    server,
    ...(port !== undefined ? { port } : {}),
    ...(database !== undefined ? { database } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(password !== undefined ? { password } : {}),
    pool: { max: options.poolSize ?? 10, min: 0 },
    requestTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    options: {
      encrypt: options.encrypt ?? url?.encrypt ?? true,
      trustServerCertificate: options.trustServerCertificate ?? url?.trustServerCertificate ?? false,
      abortTransactionOnError: true,
      appName: 'dataspace-sync',
      ...(instanceName !== undefined ? { instanceName } : {}),
    },
  };
}

interface UrlParts {
  server: string;
  port: number | undefined;
  database: string | undefined;
  user: string | undefined;
  password: string | undefined;
  encrypt: boolean | undefined;
  trustServerCertificate: boolean | undefined;
  instanceName: string | undefined;
}

/** `mssql://` or `sqlserver://` URLs; the password never appears in an error. */
function parseUrl(text: string): UrlParts {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('SQL Server store: url is not a URL (expected mssql://user:password@host:1433/database)');
  }
  if (url.protocol !== 'mssql:' && url.protocol !== 'sqlserver:') throw new Error(`SQL Server store: url scheme ${url.protocol} is not mssql: or sqlserver:`);
  const flag = (name: string): boolean | undefined => {
    const value = url.searchParams.get(name);
    if (value === null) return undefined;
    if (value === 'true') return true;
    if (value === 'false') return false;
    throw new Error(`SQL Server store: url parameter ${name} must be true or false`);
  };
  const known = new Set(['encrypt', 'trustServerCertificate', 'instanceName']);
  for (const name of url.searchParams.keys()) if (!known.has(name)) throw new Error(`SQL Server store: unknown url parameter ${name} (known: ${[...known].join(', ')})`);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    server: decodeURIComponent(url.hostname),
    port: url.port === '' ? undefined : Number(url.port),
    database: database === '' ? undefined : database,
    user: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    encrypt: flag('encrypt'),
    trustServerCertificate: flag('trustServerCertificate'),
    instanceName: url.searchParams.get('instanceName') ?? undefined,
  };
}
