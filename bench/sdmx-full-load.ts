/**
 * SDMX full load benchmark (issue 3): a dataflow of 1,000,000 observations (4 dimensions +
 * TIME_PERIOD, OBS_VALUE, an observation-level and a series-level attribute) served as SDMX-CSV 2.0
 * by the NSI simulator in its own process, and
 *   - dataspace-sync: SdmxSource -> runStream -> SQLite file (WAL, synchronous=FULL), end to end,
 *   - csv-parse alone on the same bytes (same request, gunzipped, parsed to arrays, no store),
 *   - the download alone (same request, gunzipped, bytes counted).
 * Prints observations/s, seconds and the ratio to csv-parse alone, and the peak RSS of this process
 * after the dataspace-sync runs (measured first, so the baselines do not inflate it).
 * Run: node --import tsx bench/sdmx-full-load.ts [--observations N] [--runs N]
 */
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { pino } from 'pino';
import { request } from 'undici';
import { createHttpClient } from '../src/http/undici-client.js';
import { runStream } from '../src/runner/run-stream.js';
import { SdmxSource } from '../src/sources/sdmx/sdmx-source.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { benchArgs, FULL_LOAD_FLOW, fullLoadDataUrl, median, printTable, timedFullLoad } from './_bench-kit.mjs';
import { startNsiProcess } from './_nsi-process-client.js';

const args = benchArgs({ observations: 1_000_000, runs: 1 });
const OBSERVATIONS = args.observations;
const RUNS = args.runs;
const HEADERS = { accept: 'application/vnd.sdmx.data+csv;version=2.0.0', 'accept-language': 'en', 'accept-encoding': 'gzip' };

interface Result {
  readonly name: string;
  readonly seconds: number[];
}

async function main(): Promise<void> {
  const nsi = await startNsiProcess([{ id: FULL_LOAD_FLOW, observations: OBSERVATIONS }]);
  const dataUrl = fullLoadDataUrl(nsi.url);
  try {
    const sample = await download(dataUrl, true);
    console.log(
      `SDMX full load: ${OBSERVATIONS.toLocaleString('en')} observations, ${(sample.bytes / 1e6).toFixed(1)} MB of SDMX-CSV ` +
        `(${(sample.wireBytes / 1e6).toFixed(1)} MB gzipped on the wire); simulator in its own process; median of ${RUNS} run(s); Node ${process.version}`,
    );
    const ours: Result = { name: 'dataspace-sync: SdmxSource -> runStream -> SQLite', seconds: [] };
    for (let run = 0; run < RUNS; run += 1) {
      collectGarbage();
      ours.seconds.push(await timedFullLoad({ createHttpClient, runStream, SdmxSource, SqliteStore, pino }, nsi.url, OBSERVATIONS));
    }
    const peakRssMb = process.resourceUsage().maxRSS / 1024;

    const parseOnly: Result = { name: 'csv-parse alone on the same answer (no store)', seconds: [] };
    const downloadOnly: Result = { name: 'download + gunzip alone', seconds: [] };
    for (let run = 0; run < RUNS; run += 1) {
      parseOnly.seconds.push(await parseAlone(dataUrl));
      downloadOnly.seconds.push((await download(dataUrl, true)).seconds);
    }
    printResults([ours, parseOnly, downloadOnly], parseOnly);
    console.log(`peak RSS of this process after the dataspace-sync runs: ${Math.round(peakRssMb)} MB`);
  } finally {
    await nsi.close();
  }
}

async function parseAlone(url: string): Promise<number> {
  collectGarbage();
  const started = performance.now();
  const response = await request(url, { headers: HEADERS });
  let records = 0;
  const parser = parse({ relax_column_count: true });
  parser.on('data', () => {
    records += 1;
  });
  await pipeline(response.body, createGunzip(), parser);
  const seconds = (performance.now() - started) / 1000;
  // Header + observations + one row per series.
  if (records < OBSERVATIONS) throw new Error(`parsed ${records} records, expected more than ${OBSERVATIONS}`);
  return seconds;
}

async function download(url: string, gzip: boolean): Promise<{ wireBytes: number; bytes: number; seconds: number }> {
  collectGarbage();
  const started = performance.now();
  const response = await request(url, { headers: gzip ? HEADERS : { ...HEADERS, 'accept-encoding': 'identity' } });
  let wireBytes = 0;
  let bytes = 0;
  const onWire = async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      wireBytes += chunk.length;
      yield chunk;
    }
  };
  const count = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) bytes += chunk.length;
  };
  if (gzip) await pipeline(response.body, onWire, createGunzip(), count);
  else await pipeline(response.body, onWire, count);
  return { wireBytes, bytes, seconds: (performance.now() - started) / 1000 };
}

function printResults(results: readonly Result[], baseline: Result): void {
  const base = OBSERVATIONS / median(baseline.seconds);
  const rows = results.map((result) => {
    const seconds = median(result.seconds);
    const rate = OBSERVATIONS / seconds;
    return [result.name, Math.round(rate).toLocaleString('en'), seconds.toFixed(2), `${(rate / base).toFixed(2)}x`];
  });
  printTable(['contender', 'obs/s', 'seconds', 'vs csv-parse alone'], rows);
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

await main();
