import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HttpClient } from '../../src/http/client.js';
import { Scheduler, type ScheduledStream, type StreamSchedule } from '../../src/runner/scheduler.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from '../helpers/silent-log.js';
import { tempSqliteStore } from '../helpers/stores.js';
import { TestSource, type TestSourceScript } from '../helpers/test-source.js';

const http: HttpClient = { request: () => Promise.reject(new Error('no HTTP in this test')) };

describe('Scheduler', () => {
  let store: SqliteStore;
  let cleanup: () => Promise<void>;
  let scheduler: Scheduler | undefined;

  beforeEach(async () => {
    ({ store, cleanup } = await tempSqliteStore());
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(new Date('2026-11-22T10:00:00Z'));
  });
  afterEach(async () => {
    vi.useRealTimers();
    await scheduler?.stop(1000);
    scheduler = undefined;
    await cleanup();
  });

  function start(
    streams: { id: string; script: TestSourceScript; schedules: StreamSchedule[]; runTimeoutMs?: number }[],
    options: { concurrency?: number; backoff?: { initialMs: number; maxMs: number } } = {},
  ): { sources: TestSource[]; ready: Promise<void> } {
    const sources = streams.map((s) => new TestSource(s.id, 'job', s.script));
    const scheduled: ScheduledStream[] = streams.map((s, i) => ({
      source: sources[i] as TestSource,
      schedules: s.schedules,
      runTimeoutMs: s.runTimeoutMs ?? 3_600_000,
    }));
    scheduler = new Scheduler({
      store,
      http,
      log: memoryLogger().log,
      concurrency: options.concurrency ?? 4,
      backoff: options.backoff ?? { initialMs: 60_000, maxMs: 3_600_000 },
      jitterMs: 0,
      owner: 'test',
      random: () => 1, // backoff takes its ceiling: deterministic
    });
    return { sources, ready: scheduler.start(scheduled) };
  }

  it('runs a never-synced stream at once, then every interval after the previous run ended', async () => {
    const { sources, ready } = start([{ id: 's', script: { units: 1 }, schedules: [{ everyMs: 60_000 }] }]);
    await ready;
    await vi.advanceTimersByTimeAsync(10);
    expect(sources[0]?.runs).toBe(1);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(sources[0]?.runs).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(sources[0]?.runs).toBe(2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sources[0]?.runs).toBe(3);
  });

  it('fires cron schedules in their time zone', async () => {
    const { sources, ready } = start([
      { id: 's', script: { units: 1 }, schedules: [{ cron: '30 11 * * *', tz: 'Europe/Paris' }] },
    ]);
    await ready;
    await vi.advanceTimersByTimeAsync(10); // first run: never synced
    expect(sources[0]?.runs).toBe(1);
    // 11:30 in Paris (UTC+1 in November) is 10:30 UTC: 30 minutes from the start.
    await vi.advanceTimersByTimeAsync(29 * 60_000);
    expect(sources[0]?.runs).toBe(1);
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(sources[0]?.runs).toBe(2);
  });

  it('never runs one stream twice at once: ticks during a run are dropped', async () => {
    let active = 0;
    let maxActive = 0;
    const script: TestSourceScript = {
      units: 1,
      unitDelayMs: 30_000,
      onStart: () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
      },
      onEnd: () => {
        active -= 1;
      },
    };
    const { sources, ready } = start([{ id: 's', script, schedules: [{ cron: '*/5 * * * * *' }] }]);
    await ready;
    await vi.advanceTimersByTimeAsync(29_000);
    expect(sources[0]?.runs).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(maxActive).toBe(1);
    expect(sources[0]?.runs).toBeGreaterThanOrEqual(2);
    expect(sources[0]?.runs).toBeLessThanOrEqual(3);
  });

  it('keeps at most `concurrency` runs going across streams', async () => {
    let active = 0;
    let maxActive = 0;
    const script: TestSourceScript = {
      units: 1,
      unitDelayMs: 10_000,
      onStart: () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
      },
      onEnd: () => {
        active -= 1;
      },
    };
    const streams = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, script, schedules: [{ everyMs: 3_600_000 }] }));
    const { sources, ready } = start(streams, { concurrency: 2 });
    await ready;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sources.filter((s) => s.runs === 1)).toHaveLength(2); // two running, three waiting
    await vi.advanceTimersByTimeAsync(5_500);
    expect(sources.filter((s) => s.runs === 1)).toHaveLength(4); // the first two done, the next two running
    await vi.advanceTimersByTimeAsync(30_000);
    expect(sources.every((s) => s.runs === 1)).toBe(true);
    expect(maxActive).toBe(2);
  });

  it('backs off exponentially after failures, postponing the regular schedule', async () => {
    const { sources, ready } = start(
      [{ id: 's', script: { units: 1, failInUnit: 0 }, schedules: [{ everyMs: 1_000 }] }],
      { backoff: { initialMs: 60_000, maxMs: 3_600_000 } },
    );
    await ready;
    await vi.advanceTimersByTimeAsync(10);
    expect(sources[0]?.runs).toBe(1);
    await vi.advanceTimersByTimeAsync(58_000); // first backoff: 60 s
    expect(sources[0]?.runs).toBe(1);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(sources[0]?.runs).toBe(2);
    await vi.advanceTimersByTimeAsync(100_000); // second backoff: 120 s
    expect(sources[0]?.runs).toBe(2);
    await vi.advanceTimersByTimeAsync(25_000);
    expect(sources[0]?.runs).toBe(3);
    expect((await store.readState('s'))?.consecutiveFailures).toBe(3);
  });

  it('treats a run past its runTimeout as a failure: recorded, counted and backed off', async () => {
    const { sources, ready } = start(
      [{ id: 's', script: { units: 1_000, unitDelayMs: 1_000 }, schedules: [{ everyMs: 1_000 }], runTimeoutMs: 5_500 }],
      { backoff: { initialMs: 60_000, maxMs: 3_600_000 } },
    );
    await ready;
    await vi.advanceTimersByTimeAsync(6_000);
    const state = await store.readState('s');
    expect(state).toMatchObject({ status: 'failed', consecutiveFailures: 1 });
    expect(state?.lastError).toMatch(/timed out after 5500ms/);
    expect(sources[0]?.runs).toBe(1);
    // The next run waits out the backoff (60 s), not the 1 s interval.
    const next = scheduler?.nextRun('s');
    expect(next).toBeInstanceOf(Date);
    expect((next as Date).getTime() - Date.now()).toBeGreaterThan(50_000);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(sources[0]?.runs).toBe(1);
  });

  it('tells the next run of each stream: running, queued, an interval after the run, the end of a backoff, the next cron tick', async () => {
    const { ready } = start(
      [
        { id: 'slow', script: { units: 1, unitDelayMs: 10_000 }, schedules: [{ everyMs: 60_000 }] },
        { id: 'waiting', script: { units: 1 }, schedules: [{ everyMs: 60_000 }] },
        { id: 'failing', script: { units: 1, failInUnit: 0 }, schedules: [{ cron: '0 * * * *' }] },
        { id: 'hourly', script: { units: 1 }, schedules: [{ cron: '0 * * * *' }] },
      ],
      { concurrency: 1 },
    );
    await ready;
    await vi.advanceTimersByTimeAsync(10);
    const active = scheduler as Scheduler;
    expect(active.nextRun('slow')).toBe('running');
    expect(active.nextRun('waiting')).toBe('queued');
    await vi.advanceTimersByTimeAsync(10_000);
    // Each ran once the slow one ended at 10:00:10; the failing one backs off 60 s, before its 11:00 tick.
    expect(active.nextRun('slow')).toEqual(new Date('2026-11-22T10:01:10.000Z'));
    expect(active.nextRun('waiting')).toEqual(new Date('2026-11-22T10:01:10.000Z'));
    expect(active.nextRun('failing')).toEqual(new Date('2026-11-22T10:01:10.000Z'));
    expect(active.nextRun('hourly')).toEqual(new Date('2026-11-22T11:00:00.000Z'));
    expect(active.nextRun('nope')).toBeNull();
  });

  it('stops within the bound while a run is in flight, rolling back its open transaction', async () => {
    const { sources, ready } = start([
      { id: 's', script: { units: 100, inTransaction: true, delayInUnitMs: 1_000 }, schedules: [{ everyMs: 60_000 }] },
    ]);
    await ready;
    await vi.advanceTimersByTimeAsync(5_500);
    expect(sources[0]?.runs).toBe(1);
    const stopped = (scheduler as Scheduler).stop(30_000);
    await vi.advanceTimersByTimeAsync(10);
    await expect(stopped).resolves.toBe(true);
    scheduler = undefined;
    const state = await store.readState('s');
    const committed = Number((state?.cursor as { n: number }).n);
    expect(committed).toBeGreaterThanOrEqual(4);
    expect(committed).toBeLessThanOrEqual(6);
    // The unit in flight had written its rows in its open transaction when the stop came.
    expect(sources[0]?.appliedUnits).toHaveLength(committed + 1);
    const rows = await store.readTable('items');
    expect(rows).toHaveLength(committed * 3);
    expect(rows.some((row) => row.value === `unit ${committed}`)).toBe(false);
    expect(state).toMatchObject({ status: 'idle', consecutiveFailures: 0, rowsUpserted: committed * 3 });
  });

  it('gives up waiting after the bound when a run ignores the abort', async () => {
    const { ready, sources } = start([{ id: 's', script: { units: 1 }, schedules: [{ everyMs: 60_000 }] }]);
    // A run stuck in a wait that never looks at the signal.
    (sources[0] as TestSource).read = async function* () {
      await new Promise((resolve) => setTimeout(resolve, 10 * 60_000));
      yield { type: 'checkpoint', cursor: null };
    };
    await ready;
    await vi.advanceTimersByTimeAsync(10);
    const stopped = (scheduler as Scheduler).stop(2_000);
    await vi.advanceTimersByTimeAsync(2_100);
    await expect(stopped).resolves.toBe(false);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    scheduler = undefined;
  });
});
