/**
 * The SDMX full load as users run it: the compiled code in dist/ (what `npm start` and the Docker
 * image execute), without the TypeScript loader that the .ts benchmarks carry (~40 MB of RSS).
 * Same dataflow and simulator as sdmx-full-load.ts. Each run is a fresh process, so its peak RSS is
 * that of one full load from start-up; reports the median time and the peak RSS of every run.
 * bench/run.ts builds dist/ first.
 * Run: npm run build && node bench/sdmx-full-load-shipped.mjs [observations] [runs]
 */
import { execFileSync, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createHttpClient } from '../dist/http/undici-client.js';
import { runStream } from '../dist/runner/run-stream.js';
import { SdmxSource } from '../dist/sources/sdmx/sdmx-source.js';
import { SqliteStore } from '../dist/store/sqlite/sqlite-store.js';
import { FULL_LOAD_FLOW, median, mib, timedFullLoad } from './_bench-kit.mjs';

const [, , observationsArg, runsArg, endpoint] = process.argv;
const OBSERVATIONS = Number(observationsArg ?? 1_000_000);

if (endpoint !== undefined) {
  // One run, in its own process: prints its seconds, RSS before the run and peak RSS as JSON.
  const baseRss = process.memoryUsage().rss;
  const seconds = await timedFullLoad({ createHttpClient, runStream, SdmxSource, SqliteStore, pino }, endpoint, OBSERVATIONS);
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
    const { url } = await ask({ type: 'start', flows: [{ id: FULL_LOAD_FLOW, observations: OBSERVATIONS }] });
    for (let run = 0; run < runs; run += 1) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), String(OBSERVATIONS), '1', url], { encoding: 'utf8' });
      results.push(JSON.parse(out));
    }
  } finally {
    simulator.send({ type: 'close' });
  }
  const seconds = median(results.map((r) => r.seconds));
  console.log(
    `SDMX full load, compiled dist/ (as shipped), one process per run: ${OBSERVATIONS.toLocaleString('en')} observations, ` +
      `median of ${runs} runs ${seconds.toFixed(2)} s = ${Math.round(OBSERVATIONS / seconds).toLocaleString('en')} obs/s ` +
      `(runs: ${results.map((r) => r.seconds.toFixed(2)).join(', ')} s)`,
  );
  console.log(
    `RSS before the run ${mib(results[0].baseRss)} MiB; peak RSS per run: ${results.map((r) => mib(r.peakRss)).join(', ')} MiB ` +
      `(median ${mib(median(results.map((r) => r.peakRss)))} MiB)`,
  );
}
