import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/daemon/logger.js';
import { startTestDaemon, TEST_SECRET, until, type RunningDaemon } from '../helpers/daemon.js';
import { Writable } from 'node:stream';

describe('daemon endpoints over HTTP', () => {
  let running: RunningDaemon | undefined;
  afterEach(async () => {
    await running?.cleanup();
    running = undefined;
  });

  it('/healthz answers while the process is alive', async () => {
    running = await startTestDaemon({ units: 1 });
    const response = await fetch(`${running.base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('/status lists every stream with cursor, counts and last success', async () => {
    running = await startTestDaemon({ units: 2, rowsPerUnit: 5 });
    const { base } = running;
    await until(async () => {
      const body = (await (await fetch(`${base}/status`)).json()) as { streams: { lastSuccessAt: string | null }[] };
      return body.streams.every((s) => s.lastSuccessAt !== null);
    });
    const body = (await (await fetch(`${base}/status`)).json()) as { streams: Record<string, unknown>[] };
    expect(body.streams.map((s) => s.stream).sort()).toEqual(['test:demo:0', 'test:demo:1']);
    for (const stream of body.streams) {
      expect(stream).toMatchObject({ job: 'demo', kind: 'test', status: 'idle', cursor: { n: 2 }, rowsUpserted: 10, alerting: false });
    }
  });

  it('/readyz is 200 while streams are fresh and 503 once one is past its alertAfter', async () => {
    running = await startTestDaemon({ units: 1, failInUnit: 0 }, { alertAfter: '300ms' });
    const { base } = running;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as { problems: string[] };
    expect(body.problems.join('\n')).toMatch(/test:demo:0: never synced successfully; 1 failed run, the last: /);
  });

  it('/readyz turns 503 for a stream that never succeeded once it has failed past firstSyncGrace, long before alertAfter', async () => {
    running = await startTestDaemon({ units: 1, failInUnit: 0 }, { firstSyncGrace: '300ms' });
    const { base, daemon } = running;
    await until(async () => (await daemon.reports()).every((r) => r.consecutiveFailures > 0));
    await until(async () => (await fetch(`${base}/readyz`)).status === 503);
    const body = (await (await fetch(`${base}/readyz`)).json()) as { problems: string[] };
    expect(body.problems).toEqual([
      expect.stringMatching(/^test:demo:0: never synced successfully; 1 failed run, the last: /),
      expect.stringMatching(/^test:demo:1: never synced successfully; 1 failed run, the last: /),
    ]);
  });

  it('/readyz stays 200 past firstSyncGrace for streams that succeeded, and for one that never failed', async () => {
    running = await startTestDaemon({ units: 1 }, { firstSyncGrace: '100ms' });
    const { base, daemon } = running;
    await until(async () => (await daemon.reports()).every((r) => r.lastSuccessAt !== null));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('/readyz is 503 when the store does not answer', async () => {
    running = await startTestDaemon({ units: 1 });
    const { base, daemon } = running;
    await until(async () => (await daemon.reports()).every((r) => r.lastSuccessAt !== null));
    const store = (daemon as unknown as { parts: { store: { ping: () => Promise<void> } } }).parts.store;
    const ping = store.ping;
    store.ping = () => Promise.reject(new Error('disk unplugged'));
    const response = await fetch(`${base}/readyz`);
    store.ping = ping;
    expect(response.status).toBe(503);
    expect(((await response.json()) as { problems: string[] }).problems[0]).toMatch(/store unreachable: disk unplugged/);
  });

  it('/metrics exposes runs, rows, lag and failures in Prometheus format', async () => {
    running = await startTestDaemon({ units: 3, rowsPerUnit: 2 });
    const { base, daemon } = running;
    await until(async () => (await daemon.reports()).every((r) => r.lastSuccessAt !== null));
    const response = await fetch(`${base}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await response.text();
    expect(text).toContain('dss_runs_total{stream="test:demo:0",outcome="success"} 1');
    expect(text).toContain('dss_rows_applied_total{stream="test:demo:1",change="upserted"} 6');
    expect(text).toMatch(/dss_stream_lag_seconds\{stream="test:demo:0"\} \d+/);
    expect(text).toContain('dss_stream_consecutive_failures{stream="test:demo:0"} 0');
  });

  it('/metrics counts the lag of a stream that never succeeded from the daemon start', async () => {
    const started = Date.now();
    running = await startTestDaemon({ units: 1, failInUnit: 0 });
    const { base, daemon } = running;
    await until(async () => (await daemon.reports()).every((r) => r.consecutiveFailures > 0));
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const stream of ['test:demo:0', 'test:demo:1']) {
      const lag = new RegExp(`^dss_stream_lag_seconds\\{stream="${stream}"\\} (\\d+)$`, 'm').exec(text)?.[1];
      expect(lag, text).toBeDefined();
      expect(Number(lag)).toBeGreaterThanOrEqual(1);
      expect(Number(lag)).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 1000));
    }
    expect(text).toContain('dss_stream_alerting{stream="test:demo:0"} 0');
  });

  it('unknown paths are 404 and other methods 405', async () => {
    running = await startTestDaemon({ units: 1 });
    expect((await fetch(`${running.base}/nope`)).status).toBe(404);
    expect((await fetch(`${running.base}/status`, { method: 'POST' })).status).toBe(405);
  });

  it('never shows a config secret in logs or /status, even inside errors and cursors', async () => {
    running = await startTestDaemon({
      units: 1,
      failInUnit: 0,
      failWith: () => new Error(`HTTP 401 from https://portal.example/api?apikey=${TEST_SECRET}&rows=10 (token ${TEST_SECRET})`),
    });
    const { base, daemon, logLines } = running;
    await until(async () => (await daemon.reports()).every((r) => r.lastError !== null));
    const status = await (await fetch(`${base}/status`)).text();
    expect(status).toContain('HTTP 401');
    expect(status).toContain('apikey=***');
    expect(status).not.toContain(TEST_SECRET);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toContain(TEST_SECRET);
    await until(() => logLines.some((line) => line.includes('sync failed')));
    expect(logLines.join('\n')).not.toContain(TEST_SECRET);
    expect(logLines.join('\n')).toContain('HTTP 401');
    expect(logLines.join('\n')).toContain('apikey=***&rows=10 (token ***)');
  });
});

describe('logger', () => {
  it('redacts secret keys in logged objects and substituted secrets wherever they appear', async () => {
    const sink: string[] = [];
    const logger = createLogger({
      secrets: [TEST_SECRET],
      destination: new Writable({
        write(chunk, _encoding, done) {
          sink.push(...String(chunk).split('\n').filter(Boolean));
          done();
        },
      }),
    });
    logger.info({ request: { headers: { authorization: 'Bearer abc' }, apikey: 'k-123456' }, password: 'p4ssw0rd' }, 'by key');
    logger.error({ err: `GET https://feeds.example/${TEST_SECRET}/items failed`, rows: 10 }, 'by value');
    logger.flush();
    await new Promise((resolve) => setImmediate(resolve));
    const text = sink.join('\n');
    for (const secret of ['Bearer abc', 'k-123456', 'p4ssw0rd', TEST_SECRET]) expect(text).not.toContain(secret);
    const lines = sink.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ msg: 'by key', password: '***', request: { apikey: '***', headers: { authorization: '***' } } });
    expect(lines[1]).toMatchObject({ msg: 'by value', err: 'GET https://feeds.example/***/items failed', rows: 10 });
  });
});
