import { describe, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { crashLoop, KILLS } from '../helpers/crash-loop.js';
import { postgresRequired } from '../helpers/pg.js';
import { postgresBinaries, startPrivateCluster } from '../helpers/pg-cluster.js';

/**
 * The crash loop (test/helpers/crash-loop.ts) on PostgreSQL, with the server restarted in the
 * middle under a running daemon. The server is a private throwaway cluster (initdb + pg_ctl on a
 * free port), not a TCP proxy that drops connections: a real restart ends sessions the way an
 * administrator or a failover does (57P01, then refused connections while it is down), and the
 * shared server at PGURL, which other test files use meanwhile, is never touched.
 */
describe('the daemon under SIGKILL at random moments, restarted each time', () => {
  if (postgresBinaries() === undefined && !postgresRequired()) {
    it.skip('PostgreSQL (skipped: no server binaries under /usr/lib/postgresql for a private cluster)', () => undefined);
    return;
  }
  it(`PostgreSQL: ${KILLS} kills and a server restart, then the store equals the sources`, async () => {
    const server = await startPrivateCluster();
    try {
      const schema = 'crash_loop';
      await crashLoop({
        name: 'postgres',
        store: { engine: 'postgres', url: server.url, schema },
        server,
        open: async () => {
          const store = new PostgresStore({ url: server.url, schema, readOnly: true, poolSize: 1 });
          await store.open();
          return store;
        },
      });
    } finally {
      await server.destroy();
    }
  });
});
