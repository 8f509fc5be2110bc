import { MssqlStore } from '../../../src/store/mssql/mssql-store.js';
import { FakeTdsServer, grantApplocks, type FakeRequest, type Responder } from '../../helpers/fake-tds-server.js';

export type Rpc = Extract<FakeRequest, { kind: 'rpc' }>;
export type Bulk = Extract<FakeRequest, { kind: 'bulk' }>;

/** A SQL Server store opened on a fake TDS server of its own; what it sent is in `server.requests`. */
export async function storeOnFakeServer(): Promise<{ server: FakeTdsServer; store: MssqlStore; base: Responder; close: () => Promise<void> }> {
  const server = new FakeTdsServer();
  const base = rememberTables();
  server.respond = base;
  const port = await server.listen();
  const store = new MssqlStore({ server: '127.0.0.1', port, database: 'mirror', user: 'sync', password: 'not-a-secret', encrypt: false, schema: 'mirror', poolSize: 2 });
  await store.open();
  return {
    server,
    store,
    base,
    close: async () => {
      await store.close().catch(() => undefined);
      await server.close();
    },
  };
}

/** What the store sent from `from` on (an index into server.requests), without the pool's validation queries. */
export function sentSince(server: FakeTdsServer, from: number): FakeRequest[] {
  return server.requests.slice(from).filter((request) => !(request.kind === 'rpc' && request.sql === 'SELECT 1;') && !(request.kind === 'batch' && /^set ansi_nulls/.test(request.sql)));
}

/** One line per request, for comparing sequences: `begin`, `rpc MERGE INTO ...` (first words), `bulk 3 rows`. */
export function outline(requests: readonly FakeRequest[]): string[] {
  return requests.map((request) => {
    switch (request.kind) {
      case 'batch':
      case 'rpc':
        return `${request.kind} ${request.sql.replace(/^DECLARE @[nr] INT; /, '').split(/\s+/).slice(0, 3).join(' ')}`;
      case 'bulk':
        return `bulk ${request.rows.length} rows`;
      default:
        return request.kind;
    }
  });
}

/**
 * The fake server has no tables, but the store reads back the specs it wrote to dss_tables in
 * later transactions: this answers those reads with what was written (rolled back or not), and
 * grants application locks.
 */
export function rememberTables(schema = 'mirror'): Responder {
  const specs = new Map<string, string>();
  return (request) => {
    if (request.kind === 'rpc' && request.sql.includes(`MERGE INTO [${schema}].[dss_tables]`)) {
      const [name, spec] = request.params.map((param) => String(param.value));
      specs.set((name ?? '').toLowerCase(), spec ?? '');
    }
    if (request.kind === 'rpc' && request.sql.startsWith(`SELECT spec FROM [${schema}].[dss_tables]`)) {
      const spec = specs.get(String(request.params[0]?.value).toLowerCase());
      return spec === undefined ? undefined : { rows: [{ spec }] };
    }
    return grantApplocks(request);
  };
}
