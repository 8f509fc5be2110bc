/**
 * The SDMX full load as users run it: the compiled code in dist/ (what `npm start` and the Docker
 * image execute), without the TypeScript loader that the .ts benchmarks carry (~40 MB of RSS).
 * Same dataflow and simulator as sdmx-full-load.ts; reports observations/s, the RSS before the run
 * (Node + libraries) and the peak RSS. bench/run.ts builds dist/ first.
 * Run: npm run build && node bench/sdmx-full-load-shipped.mjs [observations] [runs]
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { createHttpClient } from '../dist/http/undici-client.js';
import { runStream } from '../dist/runner/run-stream.js';
import { SdmxSource } from '../dist/sources/sdmx/sdmx-source.js';
import { SqliteStore } from '../dist/store/sqlite/sqlite-store.js';

const OBSERVATIONS = Number(process.argv[2] ?? 1_000_000);
const RUNS = Math.max(1, Number(process.argv[3] ?? 3));
const FLOW = 'DF_FULL';

// The simulator is TypeScript: it runs in its own process under tsx, sharing nothing with this one.
const simulator = fork(new URL('./sdmx-nsi-process.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'] });
const ask = (request) =>
  new Promise((resolve, reject) => {
    simulator.once('exit', (code) => reject(new Error(`the NSI process exited with code ${code}`)));
    simulator.once('message', resolve);
    simulator.send(request);
  });
const { url } = await ask({ type: 'start', flows: [{ id: FLOW, observations: OBSERVATIONS }] });

const baseRss = process.memoryUsage().rss;
const seconds = [];
try {
  for (let run = 0; run < RUNS; run += 1) seconds.push(await fullLoad());
} finally {
  simulator.send({ type: 'close' });
}
seconds.sort((a, b) => a - b);
const median = seconds[Math.floor(seconds.length / 2)];
console.log(
  `SDMX full load, compiled dist/ (as shipped): ${OBSERVATIONS.toLocaleString('en')} observations, median of ${RUNS} run(s) ` +
    `${median.toFixed(2)} s = ${Math.round(OBSERVATIONS / median).toLocaleString('en')} obs/s (runs: ${seconds.map((s) => s.toFixed(2)).join(', ')} s); ` +
    `RSS before the first run ${Math.round(baseRss / 2 ** 20)} MB, peak over the runs ${Math.round((process.resourceUsage().maxRSS * 1024) / 2 ** 20)} MB`,
);

/** One full load into a fresh SQLite file; returns its seconds after checking the row count. */
async function fullLoad() {
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
