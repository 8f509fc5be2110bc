import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { createHttpClient } from '../src/http/undici-client.js';
import { runStream } from '../src/runner/run-stream.js';
import { OdsRecordsSource } from '../src/sources/ods/records-source.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import type { Store, StoreTransaction } from '../src/store/store.js';
import { BENCH_DATASET } from './_ods-bench-dataset.js';

/**
 * One measured sync of the benchmark's records stream, alone in its process so that its peak RSS
 * is that of this sync from start-up. argv: the portal URL, the store (a SQLite file, or
 * `postgres://...#schema`), and `reset` to forget the cursor first (the "drop and reload
 * everything" baseline). Prints one JSON line.
 */
const [portal, where, mode] = process.argv.slice(2);
if (portal === undefined || where === undefined) throw new Error('usage: ods-sync-process <portal> <sqlite file | postgres url#schema> [reset]');

const [url, schema] = where.split('#');
const store: Store = where.startsWith('postgres://') ? new PostgresStore({ url: url as string, schema: schema ?? 'public' }) : new SqliteStore({ path: where });
await store.open();
// Time spent applying changes (the store's work), apart from reading the export.
let storeMs = 0;
const transaction = store.transaction.bind(store);
(store as { transaction: Store['transaction'] }).transaction = <T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> =>
  transaction((tx) =>
    fn({
      readState: (id) => tx.readState(id),
      writeState: (state) => tx.writeState(state),
      recordChanges: (id, at, changes) => tx.recordChanges(id, at, changes),
      apply: async (ops) => {
        const started = performance.now();
        try {
          return await tx.apply(ops);
        } finally {
          storeMs += performance.now() - started;
        }
      },
    }),
  );
const http = createHttpClient({ maxRetries: 0 });
const source = new OdsRecordsSource({
  id: `ods:bench:${BENCH_DATASET}`,
  jobId: 'bench',
  portal,
  apiKey: undefined,
  datasetId: BENCH_DATASET,
  table: 'bench_trees',
  uniqueKey: undefined,
  mode: 'snapshot',
  overlapMs: 0,
  reconcileEveryMs: 0,
});
try {
  if (mode === 'reset') {
    await store.transaction(async (tx) => {
      const state = await tx.readState(source.id);
      if (state) await tx.writeState({ ...state, cursor: null });
    });
  }
  const started = performance.now();
  const result = await runStream({ store, source, http, log: pino({ level: 'warn' }), signal: new AbortController().signal });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({ seconds, storeSeconds: storeMs / 1000, upserted: result.upserted, deleted: result.deleted, commits: result.commits, maxRssMb: process.resourceUsage().maxRSS / 1024 }),
  );
} finally {
  await http.close();
  await store.close();
}
