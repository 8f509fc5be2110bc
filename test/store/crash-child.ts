/**
 * Child process of crash.test.ts: takes the store from its current generation to the next in one
 * transaction, printing a marker at each step so the parent can SIGKILL it at chosen points.
 * Usage: node --import tsx test/store/crash-child.ts <db path> (the test runs a compiled copy).
 */
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { initialState } from '../../src/core/sync-state.js';
import { transitionBatches } from './crash-workload.js';

const path = process.argv[2];
if (!path) throw new Error('usage: crash-child.ts <db path>');

const mark = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

// The previous child was killed holding the lock: take it over at once.
const store = new SqliteStore({ path, instanceOwner: `crash-child:${process.pid}`, staleLockAfterMs: 0 });
await store.open();
const before = await store.readState('crash');
const from = (before?.cursor as { gen: number } | null)?.gen ?? 0;
mark(`ready ${from}`);
await store.transaction(async (tx) => {
  let index = 0;
  for (const batch of transitionBatches(from)) {
    await tx.apply(batch);
    mark(`batch ${index++}`);
    // A real source awaits the network between batches.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await tx.writeState({ ...(before ?? initialState('crash', 'crash-job', 'test')), cursor: { gen: from + 1 } });
  mark('state');
});
mark('committed');
await store.close();
mark('closed');
