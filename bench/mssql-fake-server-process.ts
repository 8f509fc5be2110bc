import { FakeTdsServer } from '../test/helpers/fake-tds-server.js';
import { rememberTables } from '../test/store/mssql/fake-mssql.js';

/**
 * The fake TDS server in its own process for bench/mssql-client-cost.ts, so that decoding what the
 * client sends costs the client nothing. Talks over IPC:
 *   {type:'stats'} -> {type:'stats', bytes, requests, bulkRows}  (since the last stats, which clears them)
 *   {type:'close'}
 * and sends {type:'started', port} first.
 */
export type FakeServerReply =
  | { readonly type: 'started'; readonly port: number }
  | { readonly type: 'stats'; readonly bytes: number; readonly requests: number; readonly bulkRows: number; readonly rpcParams: number };

const send = process.send?.bind(process);
if (!send) throw new Error('mssql-fake-server-process must be started with fork()');

const server = new FakeTdsServer();
server.respond = rememberTables('bench');
const port = await server.listen();
send({ type: 'started', port } satisfies FakeServerReply);

process.on('message', (message: { type: 'stats' | 'close' }) => {
  if (message.type === 'close') {
    void server.close().then(() => process.exit(0));
    return;
  }
  const requests = server.requests.splice(0);
  const bulkRows = requests.reduce((sum, request) => sum + (request.kind === 'bulk' ? request.rows.length : 0), 0);
  const rpcParams = requests.reduce((sum, request) => sum + (request.kind === 'rpc' ? request.params.length : 0), 0);
  send({ type: 'stats', bytes: server.bytesReceived, requests: requests.length, bulkRows, rpcParams } satisfies FakeServerReply);
  server.bytesReceived = 0;
});
