import type { CliContext } from './context.js';
import { UsageError } from './usage-error.js';

/** `reset <stream>`: forgets the cursor, so the stream's next run is a full load that rebuilds its tables. */
export async function resetCommand(context: CliContext, streamId: string): Promise<void> {
  const store = await context.openStore();
  try {
    const state = await store.readState(streamId);
    if (!state) throw new UsageError(`no stream ${streamId} in the store; see \`dataspace-sync status\``);
    await store.transaction((tx) => tx.writeState({ ...state, cursor: null, status: 'idle', consecutiveFailures: 0, lastError: null }));
    process.stdout.write(`${streamId}: cursor cleared; the next run is a full load\n`);
  } finally {
    await store.close();
  }
}
