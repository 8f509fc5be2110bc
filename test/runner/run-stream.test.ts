import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lastHours } from '../../src/core/change-history.js';
import { RetryLaterError, StreamGoneError, type SourceEvent } from '../../src/core/source.js';
import type { HttpClient } from '../../src/http/client.js';
import { BUFFER_ROWS, runStream, StreamRunError } from '../../src/runner/run-stream.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from '../helpers/silent-log.js';
import { tempSqliteStore } from '../helpers/stores.js';
import { TestSource } from '../helpers/test-source.js';

const http: HttpClient = {
  request: () => Promise.reject(new Error('no HTTP in this test')),
};

describe('runStream', () => {
  let store: SqliteStore;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ store, cleanup } = await tempSqliteStore());
  });
  afterEach(async () => cleanup());

  /** Aborts once a unit has committed, however long a busy machine takes to get there. */
  const abortAfterFirstCommit = (controller: AbortController) => {
    const timer = setInterval(() => {
      void store.readState('t:a').then((state) => {
        if (Number((state?.cursor as { n?: number } | null)?.n ?? 0) < 1) return;
        clearInterval(timer);
        controller.abort(new Error('shutting down'));
      });
    }, 10);
  };

  const run = (source: TestSource, signal = new AbortController().signal) =>
    runStream({ store, source, http, log: memoryLogger().log, signal });

  it('commits each unit with its cursor and records success', async () => {
    const source = new TestSource('t:a', 'a', { units: 3, rowsPerUnit: 2 });
    const result = await run(source);
    expect(result).toMatchObject({ commits: 3, upserted: 6, deleted: 0, cursor: { n: 3 } });
    const state = await store.readState('t:a');
    expect(state).toMatchObject({ cursor: { n: 3 }, status: 'idle', rowsUpserted: 6, consecutiveFailures: 0, kind: 'test' });
    expect(state?.lastSuccessAt).not.toBeNull();
    expect(await store.readTable('items')).toHaveLength(6);
  });

  it('counts the changes of each committed unit in the stream\'s hourly history, and not those of a unit rolled back', async () => {
    const now = () => new Date('2026-12-03T10:30:00Z');
    const source = new TestSource('t:a', 'a', { units: 3, rowsPerUnit: 2, failInUnit: 2, inTransaction: true });
    await expect(runStream({ store, source, http, log: memoryLogger().log, signal: new AbortController().signal, now })).rejects.toThrow(/scripted failure/);
    const history = (await store.changeHistories()).get('t:a');
    expect(lastHours(history, now()).slice(-2)).toEqual([0, 4]);
  });

  it('continues from the committed cursor on the next run', async () => {
    const source = new TestSource('t:a', 'a', { units: 2, rowsPerUnit: 1 });
    await run(source);
    await run(source);
    expect((await store.readState('t:a'))?.cursor).toEqual({ n: 4 });
    expect((await store.readTable('items')).map((row) => Number(row.id))).toEqual([0, 1, 2, 3]);
  });

  it('does not advance the cursor when the source throws while a unit is still buffered, and keeps earlier checkpoints', async () => {
    const source = new TestSource('t:a', 'a', { units: 3, rowsPerUnit: 2, failInUnit: 1 });
    await expect(run(source)).rejects.toThrow(/t:a: scripted failure in unit 1/);
    const state = await store.readState('t:a');
    // Unit 0 committed; unit 1's rows never left the buffer and the cursor stays at unit 0's.
    expect(state).toMatchObject({ cursor: { n: 1 }, status: 'backoff', consecutiveFailures: 1, rowsUpserted: 2 });
    expect(state?.lastError).toMatch(/scripted failure in unit 1/);
    expect((await store.readTable('items')).map((row) => row.value)).toEqual(['unit 0', 'unit 0']);
  });

  it('rolls back the open transaction when the source throws after its unit\'s rows were written', async () => {
    const source = new TestSource('t:a', 'a', { units: 3, rowsPerUnit: 2, failInUnit: 1, inTransaction: true });
    await expect(run(source)).rejects.toThrow(/t:a: scripted failure in unit 1/);
    // Unit 1's rows reached the store inside its transaction before the source threw.
    expect(source.appliedUnits).toEqual([0, 1]);
    const state = await store.readState('t:a');
    expect(state).toMatchObject({ cursor: { n: 1 }, status: 'backoff', consecutiveFailures: 1, rowsUpserted: 2 });
    expect((await store.readTable('items')).map((row) => [Number(row.id), row.value])).toEqual([
      [0, 'unit 0'],
      [1, 'unit 0'],
    ]);

    // The next run starts again from unit 0's cursor and rewrites unit 1 whole.
    source.script = { units: 1, rowsPerUnit: 2, inTransaction: true };
    await run(source);
    expect((await store.readState('t:a'))?.cursor).toEqual({ n: 2 });
    expect((await store.readTable('items')).map((row) => row.value)).toEqual(['unit 0', 'unit 0', 'unit 1', 'unit 1']);
  });

  it('records the failure when the store fails the run\'s first or last state write, as in any of its transactions', async () => {
    const source = new TestSource('t:a', 'a', { units: 1, rowsPerUnit: 1 });
    await run(source);
    source.script = { units: 2, rowsPerUnit: 1 };
    // The run's transactions: 1 marks it running, 2 and 3 commit its units, 4 records its success.
    // Failing the first keeps the cursor; failing the last keeps the units committed before it (a run in between recovers).
    for (const [failing, cursor] of [
      [1, { n: 1 }],
      [4, { n: 5 }],
    ] as const) {
      let calls = 0;
      const lostOnce = new Proxy(store, {
        get(target, property, receiver) {
          if (property !== 'transaction') return Reflect.get(target, property, receiver) as unknown;
          return (fn: Parameters<SqliteStore['transaction']>[0]) =>
            ++calls === failing ? Promise.reject(new Error('the connection to the store was lost')) : target.transaction(fn);
        },
      });
      const outcome = runStream({ store: lostOnce, source, http, log: memoryLogger().log, signal: new AbortController().signal });
      await expect(outcome).rejects.toThrow(/t:a: the connection to the store was lost/);
      const state = await store.readState('t:a');
      expect(state, `transaction ${failing}`).toMatchObject({ status: 'backoff', consecutiveFailures: 1, cursor });
      expect(state?.lastError).toMatch(/the connection to the store was lost/);
      await run(source);
    }
  });

  it('rolls back a unit larger than the buffer, streamed through its transaction, when the source throws after it', async () => {
    const rowsPerUnit = BUFFER_ROWS + 1;
    const source = new TestSource('t:a', 'a', { units: 2, rowsPerUnit, failInUnit: 1 });
    await expect(run(source)).rejects.toThrow(/t:a: scripted failure in unit 1/);
    expect(await store.readState('t:a')).toMatchObject({ cursor: { n: 1 }, status: 'backoff', rowsUpserted: rowsPerUnit });
    const rows = await store.readTable('items');
    expect(rows).toHaveLength(rowsPerUnit);
    expect(rows.every((row) => row.value === 'unit 0')).toBe(true);
  });

  it('counts consecutive failures and clears them on success', async () => {
    const source = new TestSource('t:a', 'a', { units: 1, failInUnit: 0 });
    await expect(run(source)).rejects.toThrow();
    await expect(run(source)).rejects.toThrow();
    expect((await store.readState('t:a'))?.consecutiveFailures).toBe(2);
    source.script = { units: 1 };
    await run(source);
    expect(await store.readState('t:a')).toMatchObject({ consecutiveFailures: 0, lastError: null, status: 'idle' });
  });

  it('marks a gone stream and does not count a requested wait as a failure', async () => {
    const gone = new TestSource('t:gone', 'a', { units: 1, failInUnit: 0, failWith: () => new StreamGoneError('410 Gone') });
    await expect(run(gone)).rejects.toMatchObject({ status: 'gone' });
    expect((await store.readState('t:gone'))?.status).toBe('gone');

    const later = new TestSource('t:later', 'a', {
      units: 1,
      failInUnit: 0,
      failWith: () => new RetryLaterError('503, Retry-After 3600', 3_600_000),
    });
    const error = await run(later).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamRunError);
    expect(error).toMatchObject({ status: 'backoff', retryAfterMs: 3_600_000 });
    expect(await store.readState('t:later')).toMatchObject({ consecutiveFailures: 0, status: 'backoff' });
  });

  it('stops between units when aborted, without counting it as a failure', async () => {
    const controller = new AbortController();
    const source = new TestSource('t:a', 'a', { units: 50, unitDelayMs: 20 });
    abortAfterFirstCommit(controller);
    await expect(run(source, controller.signal)).rejects.toMatchObject({ status: 'idle' });
    const state = await store.readState('t:a');
    const committed = Number((state?.cursor as { n: number }).n);
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(50);
    expect(await store.readTable('items')).toHaveLength(committed * 3);
    expect(state).toMatchObject({ consecutiveFailures: 0, status: 'idle' });
  });

  it('rolls back the open transaction when aborted mid-unit, without counting it as a failure', async () => {
    const controller = new AbortController();
    const source = new TestSource('t:a', 'a', { units: 50, inTransaction: true, delayInUnitMs: 20 });
    abortAfterFirstCommit(controller);
    await expect(run(source, controller.signal)).rejects.toMatchObject({ status: 'idle' });
    const state = await store.readState('t:a');
    const committed = Number((state?.cursor as { n: number }).n);
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(50);
    // The abort came while the next unit's rows sat in its open transaction: they were written, then rolled back.
    expect(source.appliedUnits).toHaveLength(committed + 1);
    const rows = await store.readTable('items');
    expect(rows).toHaveLength(committed * 3);
    expect(rows.some((row) => row.value === `unit ${committed}`)).toBe(false);
    expect(state).toMatchObject({ consecutiveFailures: 0, status: 'idle', rowsUpserted: committed * 3 });
  });

  it('refuses a source that ends with changes after its last checkpoint', async () => {
    const source = new TestSource('t:a', 'a', { units: 1 });
    source.read = () => Readable.from([{ type: 'changes', ops: [] }]) as AsyncIterable<SourceEvent>;
    await expect(run(source)).rejects.toThrow(/ended with changes after its last checkpoint/);
  });
});
