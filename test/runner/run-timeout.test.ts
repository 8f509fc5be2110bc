import { afterEach, describe, expect, it } from 'vitest';
import type { HttpClient } from '../../src/http/client.js';
import { runStream, StreamRunError } from '../../src/runner/run-stream.js';
import { syncOnce } from '../../src/runner/sync-once.js';
import { StoreSchemaError, type Store } from '../../src/store/store.js';
import { memoryLogger } from '../helpers/silent-log.js';
import { enginesUnderTest } from '../helpers/stores.js';
import { TestSource } from '../helpers/test-source.js';

const http: HttpClient = { request: () => Promise.reject(new Error('no HTTP in this test')) };
const engines = await enginesUnderTest();

/** A source that commits a unit every few milliseconds for far longer than any timeout below. */
const endless = (id: string) => new TestSource(id, 'job', { units: 100_000, rowsPerUnit: 2, inTransaction: true, delayInUnitMs: 5 });

/** The mirrored rows; none when the timeout came before the first unit (whose transaction creates the table). */
const rowsOf = (store: Store) => store.readTable('items').catch((error: unknown) => {
  if (error instanceof StoreSchemaError) return [];
  throw error;
});

describe.each(engines)('a run timeout on $engine', ({ open }) => {
  let cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups) await cleanup();
    cleanups = [];
  });
  const opened = async (): Promise<Store> => {
    const { store, cleanup } = await open();
    cleanups.push(cleanup);
    return store;
  };

  it('is a recorded failure: status failed, counted, the last error names runTimeout, the open unit rolled back', async () => {
    const store = await opened();
    const source = endless('t:slow');
    const error = await runStream({ store, source, http, log: memoryLogger().log, signal: new AbortController().signal, runTimeoutMs: 150 }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(StreamRunError);
    expect(error).toMatchObject({ status: 'failed' });
    const state = await store.readState('t:slow');
    expect(state).toMatchObject({ status: 'failed', consecutiveFailures: 1 });
    expect(state?.lastError).toMatch(/timed out after 150ms .*runTimeout.*defaults\.runTimeout/);
    // Nothing past the last checkpoint: the rows are exactly those of the committed units.
    const committed = Number((state?.cursor as { n: number } | null)?.n ?? 0);
    expect(await rowsOf(store)).toHaveLength(committed * 2);
    expect(state?.rowsUpserted).toBe(committed * 2);
  });

  it('counts each timed-out run in a row, while a shutdown during a run stays a clean stop', async () => {
    const store = await opened();
    const log = memoryLogger().log;
    for (let run = 0; run < 2; run += 1) {
      await runStream({ store, source: endless('t:slow'), http, log, signal: new AbortController().signal, runTimeoutMs: 80 }).catch(() => undefined);
    }
    expect(await store.readState('t:slow')).toMatchObject({ status: 'failed', consecutiveFailures: 2 });

    const shutdown = new AbortController();
    const interrupted = runStream({ store, source: endless('t:stop'), http, log, signal: shutdown.signal, runTimeoutMs: 3_600_000 });
    setTimeout(() => shutdown.abort(new Error('the daemon is shutting down')), 60);
    await expect(interrupted).rejects.toMatchObject({ status: 'idle' });
    expect(await store.readState('t:stop')).toMatchObject({ status: 'idle', consecutiveFailures: 0, lastError: null });
  });

  it('applies to `sync` as it does to the daemon: the stream fails and the others still run', async () => {
    const store = await opened();
    const quick = new TestSource('t:quick', 'job', { units: 2 });
    const { failed } = await syncOnce(
      [
        { source: endless('t:slow'), runTimeoutMs: 100 },
        { source: quick, runTimeoutMs: 3_600_000 },
      ],
      { store, http, log: memoryLogger().log, signal: new AbortController().signal, concurrency: 1 },
    );
    expect(failed).toBe(1);
    expect(await store.readState('t:slow')).toMatchObject({ status: 'failed', consecutiveFailures: 1 });
    expect((await store.readState('t:slow'))?.lastError).toMatch(/timed out after 100ms/);
    expect(await store.readState('t:quick')).toMatchObject({ status: 'idle', cursor: { n: 2 } });
  });
});
