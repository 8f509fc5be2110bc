import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeOp } from '../../src/core/ops.js';
import type { TableSpec } from '../../src/core/tables.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { pushTargetSchema } from '../../src/push/push-config.js';
import { drainTarget, DrainError } from '../../src/push/pusher.js';
import { PushRunner } from '../../src/push/push-runner.js';
import { pushedStream, type PushedStream } from '../../src/push/pushed-stream.js';
import type { StreamSource } from '../../src/core/source.js';
import { startOdsSimulator, type OdsSimulator } from '../../src/simulators/ods/ods-simulator.js';
import type { OdsField } from '../../src/simulators/ods/portal-data.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { memoryLogger } from '../helpers/silent-log.js';
import { tempSqliteStore } from '../helpers/stores.js';
import { until } from '../helpers/daemon.js';

const FIELDS: readonly OdsField[] = [
  { name: 'sensor', type: 'text' },
  { name: 'kind', type: 'text' },
  { name: 'value', type: 'text' },
];
const TABLE: TableSpec = {
  name: 'readings',
  columns: [
    { name: 'sensor', type: 'text' },
    { name: 'kind', type: 'text' },
    { name: 'value', type: 'text' },
  ],
  primaryKey: ['sensor', 'kind'],
};

let sim: OdsSimulator | undefined;
let cleanup: (() => Promise<void>) | undefined;
let http: UndiciHttpClient | undefined;

afterEach(async () => {
  await sim?.close();
  await cleanup?.();
  await http?.close();
  sim = undefined;
  cleanup = undefined;
  http = undefined;
});

/** `schema: false`: the dataset's schema is left to the first push (as ODS's bootstrap data gives it). */
async function setUp(options: { uniqueId: boolean; maxBytes?: number; schema?: false }) {
  sim = await startOdsSimulator({
    realtime: [{ dataset: 'readings', resource: 'realtime', pushKey: 'k-secret-key', ...(options.schema === false ? {} : { fields: FIELDS }), ...(options.uniqueId ? { uniqueIds: ['sensor', 'kind'] } : {}) }],
    ...(options.maxBytes === undefined ? {} : { pushBodyLimit: options.maxBytes }),
  });
  const temp = await tempSqliteStore();
  let store: Store = temp.store;
  cleanup = async () => {
    await store.close();
    await temp.cleanup();
  };
  const { log, lines } = memoryLogger();
  http = createHttpClient({ maxRetries: 2, retryBaseDelayMs: 5, maxRetryDelayMs: 20 });
  const source = { id: 's', jobId: 'j', kind: 'test', records: { relation: 'readings' }, read: () => (async function* () {})() } as StreamSource;
  const config = pushTargetSchema.parse({ url: sim.pushUrl('readings'), ...(options.uniqueId ? { uniqueId: ['sensor', 'kind'] } : {}) });
  const push = pushedStream(source, [config], () => 60_000) as PushedStream;
  await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: TABLE }]));
  const write = (ops: ChangeOp[]) => store.transaction((tx) => tx.apply(ops, push.outbox));
  const target = push.targets[0] as PushedStream['targets'][number];
  const drain = () => drainTarget(target, { store, http: http as UndiciHttpClient, log, signal: new AbortController().signal, ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }) });
  const mirrored = async () => sortRows(await store.readTable('readings'));
  const received = () => sortRows((sim as OdsSimulator).push.records('readings'));
  /** The daemon stopped and started again: the store reopened from its file, nothing kept in memory. */
  const restart = async () => {
    await store.close();
    const reopened = new SqliteStore({ path: temp.path });
    await reopened.open();
    store = reopened;
  };
  return {
    sim,
    get store() {
      return store;
    },
    write,
    drain,
    mirrored,
    received,
    lines,
    log,
    push,
    target,
    restart,
  };
}

function sortRows<T>(rows: readonly T[]): T[] {
  return [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

const upsert = (rows: string[][]): ChangeOp => ({ op: 'upsert', table: 'readings', columns: ['sensor', 'kind', 'value'], rows });

describe('the pusher delivers the outbox to an ODS realtime dataset', () => {
  for (const uniqueId of [true, false]) {
    it(`keeps the dataset equal to the mirror through inserts, changes and wildcard deletes (${uniqueId ? 'with' : 'without'} Unique ID fields)`, async () => {
      const t = await setUp({ uniqueId });
      await t.write([upsert([['s1', 'temp', '1'], ['s1', 'hum', '2'], ['s2', 'temp', '3']])]);
      expect(await t.drain()).toMatchObject({ delivered: 3, remaining: 0 });
      expect(t.received()).toEqual(await t.mirrored());
      await t.write([upsert([['s1', 'temp', '10']]), { op: 'deleteWhere', table: 'readings', keys: [{ sensor: 's2' }] }]);
      await t.drain();
      expect(t.received()).toEqual(await t.mirrored());
      expect(t.received()).toHaveLength(2);
      // Nothing left: a second drain sends nothing.
      const before = t.sim.push.log.length;
      expect(await t.drain()).toMatchObject({ delivered: 0, remaining: 0 });
      expect(t.sim.push.log.length).toBe(before);
      // Without Unique ID fields, the changed record's old values were deleted first.
      if (!uniqueId) expect(t.sim.push.log.filter((request) => request.operation === 'delete').length).toBeGreaterThan(0);
    });
  }

  it('keeps the outbox when the endpoint is disabled, reports ODS\'s message, and delivers once it is enabled again', async () => {
    const t = await setUp({ uniqueId: true });
    await t.write([upsert([['s1', 'temp', '1']])]);
    t.sim.push.setEnabled('readings', false);
    const failure = await t.drain().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DrainError);
    expect((failure as DrainError).refused).toBe(true);
    const [state] = await t.store.targetStates();
    expect(state?.lastError).toMatch(/HTTP 400/);
    expect(state?.lastError).not.toContain('k-secret-key');
    expect((await t.store.outboxSummaries())[0]?.depth).toBe(1);
    t.sim.push.setEnabled('readings', true);
    await t.drain();
    expect(t.received()).toEqual(await t.mirrored());
    expect((await t.store.targetStates())[0]).toMatchObject({ lastError: null, consecutiveFailures: 0 });
  });

  it('forgets nothing on a 200 that is not {"status": "OK"} (a maintenance page): the entry stays until a real acknowledgement', async () => {
    const t = await setUp({ uniqueId: true });
    await t.write([upsert([['s1', 'temp', '1']])]);
    t.sim.injectFault({ type: 'html' }, { on: 'push', times: 1 });
    const failure = await t.drain().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DrainError);
    expect((failure as DrainError).message).toMatch(/was not acknowledged: HTTP 200/);
    expect((await t.store.outboxSummaries())[0]?.depth).toBe(1);
    expect((await t.store.targetStates())[0]?.delivered).toBe(0);
    expect(await t.drain()).toMatchObject({ delivered: 1, remaining: 0 });
    expect(t.received()).toEqual(await t.mirrored());
  });

  it('the daemon\'s push runner retries a refused target by itself and delivers once it is enabled, with no further sync', async () => {
    const t = await setUp({ uniqueId: true });
    t.sim.push.setEnabled('readings', false);
    await t.write([upsert([['s1', 'temp', '1'], ['s2', 'temp', '2']])]);
    const runner = new PushRunner({ store: t.store, http: http as UndiciHttpClient, log: t.log, owner: 'test', retry: { initialMs: 20, maxMs: 100 } });
    runner.add('s', t.push);
    try {
      runner.drainSoon('s');
      const refused = () => t.sim.push.log.filter((request) => request.status === 400).length;
      await until(() => refused() >= 3);
      t.sim.push.setEnabled('readings', true);
      await until(async () => (await runner.reports())[0]?.outboxDepth === 0);
      expect(t.received()).toEqual(await t.mirrored());
      expect(t.received()).toHaveLength(2);
      expect((await runner.reports())[0]).toMatchObject({ outboxDepth: 0, consecutiveFailures: 0 });
    } finally {
      await runner.stop();
    }
  });

  it('reports no success for a target that never delivered: an empty outbox is not a delivery', async () => {
    const t = await setUp({ uniqueId: true });
    await t.drain();
    expect((await t.store.targetStates())[0]?.lastSuccessAt ?? null).toBeNull();
    await t.write([upsert([['s1', 'temp', '1']])]);
    await t.drain();
    const delivered = (await t.store.targetStates())[0]?.lastSuccessAt ?? null;
    expect(delivered).not.toBeNull();
    // Once in step, a drain that finds nothing to do confirms it is still so.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await t.drain();
    expect(Date.parse((await t.store.targetStates())[0]?.lastSuccessAt ?? '')).toBeGreaterThan(Date.parse(delivered as string));
  });

  it('re-sends harmlessly after 500s and a connection dropped after the records were applied', async () => {
    const t = await setUp({ uniqueId: false });
    t.sim.injectFault({ type: 'status', status: 500 }, { on: 'push', times: 1 });
    t.sim.injectFault({ type: 'drop', afterApplying: true }, { on: 'push', times: 1 });
    await t.write([upsert([['s1', 'temp', '1'], ['s2', 'temp', '2']])]);
    await t.drain();
    expect(t.received()).toEqual(await t.mirrored());
    expect(t.sim.push.log.filter((request) => request.operation === 'push').length).toBe(3);
  });

  it('sends a 20 MB change set as several requests under ODS\'s 5 MB limit, and sets a record over 5 MB aside', async () => {
    const t = await setUp({ uniqueId: true });
    // 2,100 records of about 10 kB: 21 MB of JSON, and one record of 6 MB that no request may carry.
    const rows = Array.from({ length: 2_100 }, (_, index) => [`s${index}`, 'temp', `${index}:`.padEnd(10_000, 'v')]);
    await t.write([upsert([...rows, ['huge', 'temp', 'h'.repeat(6_000_000)]])]);
    const result = await t.drain();
    expect(result).toMatchObject({ delivered: 2_100, setAside: 1, remaining: 0 });
    const pushes = t.sim.push.log.filter((request) => request.operation === 'push');
    expect(pushes.reduce((sum, request) => sum + request.bytes, 0)).toBeGreaterThan(20_000_000);
    expect(pushes.length).toBeGreaterThanOrEqual(5);
    expect(pushes.every((request) => request.bytes < 5_000_000 && request.status === 200)).toBe(true);
    expect(t.received()).toEqual((await t.mirrored()).filter((row) => row['sensor'] !== 'huge'));
    expect((await t.store.targetStates())[0]?.setAside[0]).toMatch(/^huge\.temp: \d+ bytes/);
  });

  it('splits a change set into requests under the body limit, and sets a record too big for one request aside', async () => {
    const t = await setUp({ uniqueId: true, maxBytes: 2_000 });
    const rows = Array.from({ length: 60 }, (_, index) => [`s${index}`, 'temp', 'x'.repeat(100)]);
    await t.write([upsert([...rows, ['big', 'temp', 'y'.repeat(3_000)]])]);
    const result = await t.drain();
    expect(result).toMatchObject({ delivered: 60, setAside: 1, remaining: 0 });
    const pushes = t.sim.push.log.filter((request) => request.operation === 'push');
    expect(pushes.length).toBeGreaterThan(3);
    expect(pushes.every((request) => request.bytes < 2_000 && request.status === 200)).toBe(true);
    expect(t.received()).toHaveLength(60);
    expect((await t.store.targetStates())[0]?.setAside[0]).toMatch(/^big\.temp: \d+ bytes/);
    expect(t.lines.some((line) => line.includes('record too big'))).toBe(true);
  });
});

describe('a push ODS applied but never acknowledged', () => {
  type Setup = Awaited<ReturnType<typeof setUp>>;
  /** Every attempt at the next push request is applied and its answer lost (the HTTP client tries 3 times): the drain fails. */
  const loseAnswers = (t: Setup) => t.sim.injectFault({ type: 'drop', afterApplying: true }, { on: 'push', times: 3 });
  const s1 = (value: string) => ({ sensor: 's1', kind: 'temp', value });

  for (const uniqueId of [true, false]) {
    const variant = `${uniqueId ? 'with' : 'without'} Unique ID fields`;

    it(`leaves no stale record at ODS when the record changes again (${variant})`, async () => {
      const t = await setUp({ uniqueId });
      await t.write([upsert([['s1', 'temp', '1'], ['s2', 'temp', '5']])]);
      await t.drain();
      loseAnswers(t);
      await t.write([upsert([['s1', 'temp', '2']])]);
      await expect(t.drain()).rejects.toBeInstanceOf(DrainError);
      expect(t.received()).toContainEqual(s1('2'));
      await t.write([upsert([['s1', 'temp', '3']])]);
      await t.drain();
      expect(t.received()).toEqual(await t.mirrored());
    });

    it(`leaves no stale record at ODS when the records are deleted next, a record new in that push included (${variant})`, async () => {
      const t = await setUp({ uniqueId });
      await t.write([upsert([['s1', 'temp', '1'], ['s2', 'temp', '5']])]);
      await t.drain();
      loseAnswers(t);
      await t.write([upsert([['s1', 'temp', '2'], ['s3', 'temp', '7']])]);
      await expect(t.drain()).rejects.toBeInstanceOf(DrainError);
      await t.write([{ op: 'deleteWhere', table: 'readings', keys: [{ sensor: 's1' }, { sensor: 's3' }] }]);
      await t.drain();
      expect(t.received()).toEqual(await t.mirrored());
      expect(t.received()).toEqual([{ sensor: 's2', kind: 'temp', value: '5' }]);
    });

    it(`deletes the values of a first push never applied, before the dataset has a schema, once the record is deleted at the source (${variant})`, async () => {
      const t = await setUp({ uniqueId, schema: false });
      t.sim.injectFault({ type: 'drop' }, { on: 'push', times: 3 });
      await t.write([upsert([['s1', 'temp', '1']])]);
      await expect(t.drain()).rejects.toBeInstanceOf(DrainError);
      await t.write([{ op: 'deleteWhere', table: 'readings', keys: [{ sensor: 's1' }] }]);
      expect(await t.drain()).toMatchObject({ delivered: 1, remaining: 0 });
      expect(t.received()).toEqual([]);
      await t.write([upsert([['s2', 'temp', '2']])]);
      await t.drain();
      expect(t.received()).toEqual(await t.mirrored());
    });

    it(`still knows of the unacknowledged push after a restart, and deletes its record once deleted at the source (${variant})`, async () => {
      const t = await setUp({ uniqueId });
      loseAnswers(t);
      await t.write([upsert([['s1', 'temp', '1']])]);
      await expect(t.drain()).rejects.toBeInstanceOf(DrainError);
      expect(t.received()).toEqual([s1('1')]);
      await t.restart();
      await t.write([{ op: 'deleteWhere', table: 'readings', keys: [{ sensor: 's1' }] }]);
      await t.drain();
      expect(t.received()).toEqual([]);
      expect(await t.mirrored()).toEqual([]);
    });
  }

  it('pushes values sent but never acknowledged again, without deleting them first, while they are the current ones', async () => {
    const t = await setUp({ uniqueId: false });
    await t.write([upsert([['s1', 'temp', '1']])]);
    await t.drain();
    loseAnswers(t);
    await t.write([upsert([['s1', 'temp', '2']])]);
    await expect(t.drain()).rejects.toBeInstanceOf(DrainError);
    const before = t.sim.push.log.length;
    expect(await t.drain()).toMatchObject({ delivered: 1, remaining: 0 });
    expect(t.sim.push.log.slice(before).map((request) => [request.operation, request.status])).toEqual([['push', 200]]);
    expect(t.received()).toEqual([s1('2')]);
  });

  it('counts a delete of values ODS never applied as done: ODS answers OK for values it does not hold', async () => {
    const t = await setUp({ uniqueId: false });
    await t.write([upsert([['s1', 'temp', '1']])]);
    await t.drain();
    // Dropped before applying: ODS holds nothing of s1 (its old values were deleted first).
    t.sim.injectFault({ type: 'drop' }, { on: 'push', times: 3 });
    await t.write([upsert([['s1', 'temp', '2']])]);
    await expect(t.drain()).rejects.toBeInstanceOf(DrainError);
    expect(t.received()).toEqual([]);
    await t.write([upsert([['s1', 'temp', '3']])]);
    const before = t.sim.push.log.length;
    await t.drain();
    expect(t.sim.push.log.slice(before).map((request) => [request.operation, request.status])).toEqual([
      ['delete', 200],
      ['push', 200],
    ]);
    expect(t.received()).toEqual([s1('3')]);
    expect(await t.store.outboxSummaries()).toEqual([]);
  });
});

describe('a delete ODS applied but never acknowledged', () => {
  const loseDeleteAnswers = (t: Awaited<ReturnType<typeof setUp>>) => t.sim.injectFault({ type: 'drop', afterApplying: true }, { on: 'push-delete', times: 3 });
  for (const uniqueId of [true, false]) {
    const variant = `${uniqueId ? 'with' : 'without'} Unique ID fields`;
    it(`pushes a record again when it comes back with the values whose delete ODS applied without an answer (${variant})`, async () => {
      const t = await setUp({ uniqueId });
      await t.write([upsert([['s1', 'temp', '1'], ['s2', 'temp', '5']])]);
      await t.drain();
      loseDeleteAnswers(t);
      await t.write([{ op: 'deleteWhere', table: 'readings', keys: [{ sensor: 's1' }] }]);
      await expect(t.drain()).rejects.toBeInstanceOf(DrainError);
      expect(t.received()).toEqual([{ sensor: 's2', kind: 'temp', value: '5' }]);
      await t.write([upsert([['s1', 'temp', '1']])]);
      await t.drain();
      expect(t.received()).toEqual(await t.mirrored());
    });
  }
  it('pushes a record again when it changes back to the values whose delete (before the change) ODS applied without an answer', async () => {
    const t = await setUp({ uniqueId: false });
    await t.write([upsert([['s1', 'temp', '1'], ['s2', 'temp', '5']])]);
    await t.drain();
    loseDeleteAnswers(t);
    await t.write([upsert([['s1', 'temp', '2']])]);
    await expect(t.drain()).rejects.toBeInstanceOf(DrainError);
    await t.write([upsert([['s1', 'temp', '1']])]);
    await t.drain();
    expect(t.received()).toEqual(await t.mirrored());
  });
});

describe('a drain under a lease another daemon has since taken', () => {
  it('is refused before it sends anything: nothing pushed, nothing marked, the outbox kept for the new holder', async () => {
    const t = await setUp({ uniqueId: true });
    await t.write([upsert([['s1', 'temp', '1']])]);
    const lost = await t.store.acquireLease('s', 'daemon-a');
    if (lost === undefined) throw new Error('no lease');
    await lost.release();
    const current = await t.store.acquireLease('s', 'daemon-b');
    if (current === undefined) throw new Error('no lease');
    try {
      const stale = drainTarget(t.target, { store: t.store, http: http as UndiciHttpClient, log: memoryLogger().log, signal: new AbortController().signal, lease: { streamId: 's', epoch: lost.epoch } });
      await expect(stale).rejects.toBeInstanceOf(DrainError);
      expect(t.received()).toEqual([]);
      expect((await t.store.outboxSummaries()).map((summary) => summary.depth)).toEqual([1]);
    } finally {
      await current.release();
    }
    await t.drain();
    expect(t.received()).toEqual(await t.mirrored());
  });
});
