/**
 * The SDMX full load as users run it: the compiled code in dist/ (what `npm start` and the Docker
 * image execute), without the TypeScript loader that the .ts benchmarks carry (~40 MB of RSS).
 * Same dataflow and simulator as sdmx-full-load.ts. Each run is a fresh process, so its peak RSS is
 * that of one full load from start-up; reports the median time and the peak RSS of every run.
 * bench/run.ts builds dist/ first.
 * Run: npm run build && node bench/sdmx-full-load-shipped.mjs [observations] [runs]
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { createHttpClient } from '../dist/http/undici-client.js';
import { runStream } from '../dist/runner/run-stream.js';
import { SdmxSource } from '../dist/sources/sdmx/sdmx-source.js';
import { SqliteStore } from '../dist/store/sqlite/sqlite-store.js';

const FLOW = 'DF_FULL';
const [, , observationsArg, runsArg, endpoint] = process.argv;
const OBSERVATIONS = Number(observationsArg ?? 1_000_000);

if (endpoint !== undefined) {
  // One run, in its own process: prints its seconds, RSS before the run and peak RSS as JSON.
  const baseRss = process.memoryUsage().rss;
  const seconds = await fullLoad(endpoint);
  console.log(JSON.stringify({ seconds, baseRss, peakRss: process.resourceUsage().maxRSS * 1024 }));
} else {
  const runs = Math.max(1, Number(runsArg ?? 5));
  // The simulator is TypeScript: it runs in its own process under tsx, sharing nothing with the runs.
  const simulator = fork(new URL('./sdmx-nsi-process.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'] });
  const ask = (request) =>
    new Promise((resolve, reject) => {
      simulator.once('exit', (code) => reject(new Error(`the NSI process exited with code ${code}`)));
      simulator.once('message', resolve);
      simulator.send(request);
    });
  const results = [];
  try {
    const { url } = await ask({ type: 'start', flows: [{ id: FLOW, observations: OBSERVATIONS }] });
    for (let run = 0; run < runs; run += 1) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), String(OBSERVATIONS), '1', url], { encoding: 'utf8' });
      results.push(JSON.parse(out));
    }
  } finally {
    simulator.send({ type: 'close' });
  }
  const mb = (bytes) => Math.round(bytes / 2 ** 20);
  const seconds = results.map((r) => r.seconds).sort((a, b) => a - b);
  const median = seconds[Math.floor(seconds.length / 2)];
  console.log(
    `SDMX full load, compiled dist/ (as shipped), one process per run: ${OBSERVATIONS.toLocaleString('en')} observations, ` +
      `median of ${runs} runs ${median.toFixed(2)} s = ${Math.round(OBSERVATIONS / median).toLocaleString('en')} obs/s ` +
      `(runs: ${results.map((r) => r.seconds.toFixed(2)).join(', ')} s)`,
  );
  console.log(
    `RSS before the run ${mb(results[0].baseRss)} MB; peak RSS per run: ${results.map((r) => mb(r.peakRss)).join(', ')} MB ` +
      `(median ${mb(results.map((r) => r.peakRss).sort((a, b) => a - b)[Math.floor(runs / 2)])} MB)`,
  );
}

/** One full load into a fresh SQLite file; returns its seconds after checking the row count. */
async function fullLoad(url) {
  const dir = mkdtempSync(join(tmpdir(), 'dss-bench-shipped-'));
  const store = new SqliteStore({ path: join(dir, 'sync.db') });
  const http = createHttpClient();
  try {
    await store.open();
    const source = new SdmxSource({
      id: `sdmx:bench:BENCH:${FLOW}(1.0):data`,
      jobId: 'bench',
      mode: 'data',
      endpoint: url,
      api: 'v1',
      dataflow: { agency: 'BENCH', id: FLOW, version: '1.0' },
      prefix: 'bench',
      overlapMs: 5 * 60_000,
      structureFormat: 'auto',
    });
    const started = performance.now();
    await runStream({ store, source, http, log: pino({ level: 'silent' }), signal: new AbortController().signal });
    const elapsed = (performance.now() - started) / 1000;
    await store.close();
    const db = new Database(join(dir, 'sync.db'), { readonly: true });
    const { n } = db.prepare('SELECT count(*) AS n FROM bench_obs').get();
    db.close();
    if (n !== OBSERVATIONS) throw new Error(`the mirror holds ${n} observations, expected ${OBSERVATIONS}`);
    return elapsed;
  } finally {
    await store.close().catch(() => undefined);
    await http.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
