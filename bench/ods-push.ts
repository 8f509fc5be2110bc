/**
 * Push benchmark (issue 13): delivery to an Opendatasoft realtime dataset (the ODS simulator's
 * Push API receiver on loopback).
 *   - Throughput: 100,000 records committed with their outbox entry, then drained by the pusher
 *     (differences found in SQL, JSON arrays under 5,000,000 bytes, delivered state written per
 *     request). Baseline in the same run: the same records POSTed straight from memory in the same
 *     batches, with no store (the floor any pusher has to pay for the receiver and the wire).
 *   - Freshness: an RPDE feed polled by the daemon's scheduler every poll interval, its stream
 *     pushed after each sync by the push runner; a change at the publisher is timed until the
 *     receiver holds it. Reported as p50 / p95 next to the poll interval.
 * Run: node --import tsx bench/ods-push.ts [--records N] [--changes N] [--poll 8s]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { StreamSource } from '../src/core/source.js';
import { createHttpClient } from '../src/http/undici-client.js';
import { pushTargetSchema } from '../src/push/push-config.js';
import { drainTarget, MAX_PUSH_BYTES } from '../src/push/pusher.js';
import { PushRunner } from '../src/push/push-runner.js';
import { pushedStream, type PushedStream } from '../src/push/pushed-stream.js';
import { batches } from '../src/push/record-json.js';
import { Scheduler } from '../src/runner/scheduler.js';
import { startOdsSimulator } from '../src/simulators/ods/ods-simulator.js';
import { startRpdePublisher } from '../src/simulators/rpde/publisher.js';
import { RpdeFeedSource } from '../src/sources/rpde/rpde-source.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '100000' }, changes: { type: 'string', default: '15' }, poll: { type: 'string', default: '8' } } });
const RECORDS = Number(values.records);
const CHANGES = Number(values.changes);
const POLL_MS = Number(values.poll) * 1000;
const log = pino({ level: 'silent' });

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function throughput(): Promise<void> {
  const ods = await startOdsSimulator({
    realtime: [
      { dataset: 'obs', resource: 'realtime', pushKey: 'bench-key-1', uniqueIds: ['series', 'period'] },
      { dataset: 'floor', resource: 'realtime', pushKey: 'bench-key-2', uniqueIds: ['series', 'period'] },
    ],
  });
  ods.push.log.length = 0;
  const dir = mkdtempSync(join(tmpdir(), 'dss-bench-push-'));
  const store = new SqliteStore({ path: join(dir, 'sync.db') });
  const http = createHttpClient({});
  try {
    await store.open();
    const source = { id: 'bench', jobId: 'bench', kind: 'bench', records: { relation: 'obs' }, read: () => (async function* () {})() } as StreamSource;
    const push = pushedStream(source, [pushTargetSchema.parse({ url: ods.pushUrl('obs'), uniqueId: ['series', 'period'] })], () => 3_600_000) as PushedStream;
    const rows = Array.from({ length: RECORDS }, (_, index) => [`S${index % 1000}`, String(2000 + Math.floor(index / 1000)), String(index * 1.5), index % 7 === 0 ? 'E' : 'A', 'a free-text note of some length']);
    const columns = ['series', 'period', 'value', 'status', 'note'];
    await store.transaction(async (tx) => {
      await tx.apply([{ op: 'ensureTable', spec: { name: 'obs', columns: columns.map((name) => ({ name, type: 'text' as const })), primaryKey: ['series', 'period'] } }]);
      await tx.apply([{ op: 'upsert', table: 'obs', columns, rows }], push.outbox);
    });
    const started = performance.now();
    const result = await drainTarget(push.targets[0] as PushedStream['targets'][number], { store, http, log, signal: new AbortController().signal });
    const seconds = (performance.now() - started) / 1000;
    const requests = ods.push.log.length;
    const bytes = ods.push.log.reduce((sum, entry) => sum + entry.bytes, 0);

    // The floor: the same records, encoded and POSTed from memory in the same batches.
    const shape = { key: ['series', 'period'], fields: columns.map((name) => ({ name, type: 'text' as const, asText: false })) };
    const records = rows.map((row) => Object.fromEntries(columns.map((name, index) => [name, row[index] ?? null])));
    const floorStarted = performance.now();
    for (const batch of batches(shape, records, MAX_PUSH_BYTES).batches) {
      const response = await http.request(ods.pushUrl('floor'), { method: 'POST', body: batch.body, headers: { 'content-type': 'application/json' } });
      await response.text();
    }
    const floorSeconds = (performance.now() - floorStarted) / 1000;
    const rate = result.delivered / seconds;
    const floorRate = RECORDS / floorSeconds;
    process.stdout.write(
      `| what | records | seconds | records/s | ratio to floor |\n|---|---|---|---|---|\n` +
        `| pusher (outbox -> SQL differences -> Push API, delivered state per request) | ${result.delivered} | ${seconds.toFixed(2)} | ${Math.round(rate)} | ${(rate / floorRate).toFixed(2)} |\n` +
        `| floor (same batches POSTed from memory, no store) | ${RECORDS} | ${floorSeconds.toFixed(2)} | ${Math.round(floorRate)} | 1.00 |\n\n` +
        `${requests} push requests, ${(bytes / 1e6).toFixed(1)} MB, largest ${(Math.max(...ods.push.log.map((entry) => entry.bytes)) / 1e6).toFixed(2)} MB; receiver holds ${ods.push.count('obs')} records\n\n`,
    );
  } finally {
    await http.close();
    await store.close();
    await ods.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function freshness(): Promise<void> {
  const ods = await startOdsSimulator({ realtime: [{ dataset: 'sessions', resource: 'realtime', pushKey: 'bench-key-3', uniqueIds: ['id'] }] });
  const publisher = await startRpdePublisher({ items: 200, pageSize: 100 });
  const dir = mkdtempSync(join(tmpdir(), 'dss-bench-fresh-'));
  const store = new SqliteStore({ path: join(dir, 'sync.db') });
  const http = createHttpClient({});
  await store.open();
  const source = new RpdeFeedSource({
    id: 'rpde:bench:sessions',
    jobId: 'bench',
    feedUrl: publisher.url,
    table: 'bench_items',
    pollIntervalMs: POLL_MS,
    retryAfterDefault: { minMs: 3_600_000, maxMs: 7_200_000 },
    tombstoneRetentionMs: 7 * 86_400_000,
    resyncAfterMs: 7 * 86_400_000,
    allowedOrigins: [],
  });
  const push = pushedStream(source, [pushTargetSchema.parse({ url: ods.pushUrl('sessions'), uniqueId: ['id'] })], () => 3_600_000) as PushedStream;
  const runner = new PushRunner({ store, http, log, owner: 'bench' });
  runner.add(source.id, push);
  const scheduler = new Scheduler({
    store,
    http,
    log,
    concurrency: 2,
    backoff: { initialMs: 1_000, maxMs: 10_000 },
    jitterMs: 0,
    owner: 'bench',
    observer: { runEnded: (streamId) => runner.drainSoon(streamId) },
  });
  try {
    await scheduler.start([{ source, schedules: [{ everyMs: POLL_MS }], runTimeoutMs: 60_000, push }]);
    // Wait for the first full load to arrive.
    while (ods.push.count('sessions') < publisher.feed.liveItems().size) await new Promise((resolve) => setTimeout(resolve, 100));
    const latencies: number[] = [];
    const ids = [...publisher.feed.liveItems().keys()];
    for (let change = 0; change < CHANGES; change += 1) {
      // Changes fall at random moments of the poll cycle.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * POLL_MS));
      const id = ids[change % ids.length] as string;
      publisher.feed.upsert(id);
      const modified = String(publisher.feed.liveItems().get(id)?.modified);
      const at = performance.now();
      for (;;) {
        const record = ods.push.records('sessions').find((candidate) => candidate['id'] === id);
        if (record !== undefined && record['modified'] === modified) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      latencies.push((performance.now() - at) / 1000);
    }
    latencies.sort((a, b) => a - b);
    process.stdout.write(
      `| poll interval | changes | p50 | p95 | max |\n|---|---|---|---|---|\n| ${POLL_MS / 1000} s | ${CHANGES} | ${quantile(latencies, 0.5).toFixed(2)} s | ${quantile(latencies, 0.95).toFixed(2)} s | ${(latencies.at(-1) ?? NaN).toFixed(2)} s |\n`,
    );
  } finally {
    await scheduler.stop(10_000);
    await runner.stop();
    await http.close();
    await store.close();
    await publisher.close();
    await ods.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`### Throughput: ${RECORDS} records\n\n`);
await throughput();
process.stdout.write(`### Freshness: RPDE change -> receiver, daemon scheduler and push runner\n\n`);
await freshness();
