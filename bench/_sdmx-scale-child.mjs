/**
 * One measured run of bench/sdmx-scale.ts, in a process of its own so that its peak RSS and CPU
 * time are its own. Prints one JSON line: seconds (wall), cpuSeconds (user + system, every thread),
 * baseRss and peakRss (bytes), rows (checked).
 *
 * Contenders:
 *   ours        the compiled dist/ (as shipped): SdmxSource -> runStream -> SqliteStore, a fresh file
 *   ours-writer-thread  the same with the store's writing connection on its own thread (writerThread: true)
 *   csv-sqlite  node:http + gunzip + csv-parse, each record inserted with a prepared statement into
 *               better-sqlite3 in one transaction: observations by their 5-dimension key, series
 *               attributes by their 4 (the same tables, pragmas and durability as ours)
 *   download    node:http + gunzip, bytes counted: the floor
 *
 * Run: node bench/_sdmx-scale-child.mjs <contender> <endpoint> <observations>
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createGunzip } from 'node:zlib';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse';

const FLOW = 'DF_FULL';
const DIMENSIONS = ['FREQ', 'REF_AREA', 'MEASURE', 'UNIT_MEASURE', 'TIME_PERIOD'];
const [, , contender, endpoint, observationsArg] = process.argv;
const OBSERVATIONS = Number(observationsArg);
const dataUrl = `${endpoint}/data/BENCH,${FLOW},1.0/all`;

// The code under test is loaded before the clock starts, as a daemon has it loaded before a sync.
const dist = contender.startsWith('ours') ? await loadDist() : undefined;
const baseRss = process.memoryUsage().rss;
const dir = mkdtempSync(join(tmpdir(), 'dss-bench-scale-'));
const path = join(dir, 'sync.db');
try {
  const cpuBefore = process.cpuUsage();
  const threadsBefore = threadTicks();
  const started = performance.now();
  let rows;
  if (contender === 'ours') rows = await ours(dist, false);
  else if (contender === 'ours-writer-thread') rows = await ours(dist, true);
  else if (contender === 'csv-sqlite') rows = await csvSqlite();
  else if (contender === 'download') rows = await download();
  else throw new Error(`unknown contender ${contender}`);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (contender !== 'download') {
    // Count what was committed, from the file, rather than trusting the contender.
    const db = new Database(path, { readonly: true });
    const table = contender.startsWith('ours') ? 'bench_obs' : 'obs';
    const { n } = db.prepare(`SELECT count(*) AS n FROM ${table}`).get();
    db.close();
    if (n !== OBSERVATIONS) throw new Error(`${contender}: the file holds ${n} observations, expected ${OBSERVATIONS}`);
  } else if (rows < OBSERVATIONS) {
    throw new Error(`download: ${rows} lines, expected more than ${OBSERVATIONS}`);
  }
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const { mainCpuSeconds, otherCpuSeconds } = threadCpu(threadsBefore, threadTicks());
  console.log(
    JSON.stringify({ contender, observations: OBSERVATIONS, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, mainCpuSeconds, otherCpuSeconds, baseRss, peakRss, rows }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** CPU seconds of each thread of this process, by thread id, from /proc (Linux; empty elsewhere). */
function threadTicks() {
  const seconds = new Map();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      seconds.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / 100);
    }
  } catch {
    // Not Linux: no per-thread figures.
  }
  return seconds;
}

/**
 * CPU seconds of the main thread and of the busiest other thread (the SQLite writer thread, or
 * zlib's in libuv's pool) during the run: on an idle machine with two cores the larger of the two
 * bounds the wall time, whatever else runs on the VM meanwhile.
 */
function threadCpu(before, after) {
  if (after.size === 0) return { mainCpuSeconds: undefined, otherCpuSeconds: undefined };
  const used = (tid) => (after.get(tid) ?? 0) - (before.get(tid) ?? 0);
  const others = [...after.keys()].filter((tid) => tid !== process.pid).map(used);
  return { mainCpuSeconds: used(process.pid), otherCpuSeconds: Math.max(0, ...others) };
}

async function loadDist() {
  const { createHttpClient } = await import('../dist/http/undici-client.js');
  const { runStream } = await import('../dist/runner/run-stream.js');
  const { SdmxSource } = await import('../dist/sources/sdmx/sdmx-source.js');
  const { SqliteStore } = await import('../dist/store/sqlite/sqlite-store.js');
  const { pino } = await import('pino');
  return { createHttpClient, runStream, SdmxSource, SqliteStore, pino };
}

async function ours({ createHttpClient, runStream, SdmxSource, SqliteStore, pino }, writerThread) {
  const store = new SqliteStore({ path, writerThread });
  const http = createHttpClient();
  try {
    await store.open();
    const source = new SdmxSource({
      id: `sdmx:bench:BENCH:${FLOW}(1.0):data`,
      jobId: 'bench',
      mode: 'data',
      endpoint,
      api: 'v1',
      dataflow: { agency: 'BENCH', id: FLOW, version: '1.0' },
      prefix: 'bench',
      overlapMs: 5 * 60_000,
      structureFormat: 'auto',
    });
    const result = await runStream({ store, source, http, log: pino({ level: 'silent' }), signal: new AbortController().signal });
    return result.upserted;
  } finally {
    await store.close();
    await http.close();
  }
}

/** The decompressed answer as a stream, over node:http (no undici: its read-back under backpressure is not what is measured). */
function body() {
  return new Promise((resolve, reject) => {
    get(dataUrl, { headers: { accept: 'application/vnd.sdmx.data+csv;version=2.0.0', 'accept-encoding': 'gzip' } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
      resolve(res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res);
    }).on('error', reject);
  });
}

async function csvSqlite() {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('cache_size = -32768');
  const series = DIMENSIONS.slice(0, 4);
  const list = (names) => names.map((name) => `"${name}"`).join(', ');
  db.exec(
    `CREATE TABLE obs (${DIMENSIONS.map((name) => `"${name}" TEXT NOT NULL`).join(', ')}, OBS_VALUE TEXT, OBS_STATUS TEXT, PRIMARY KEY (${list(DIMENSIONS)})) WITHOUT ROWID`,
  );
  db.exec(`CREATE TABLE series (${series.map((name) => `"${name}" TEXT NOT NULL`).join(', ')}, UNIT_MULT TEXT, PRIMARY KEY (${list(series)})) WITHOUT ROWID`);
  const insertObs = db.prepare(`INSERT OR REPLACE INTO obs VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const insertSeries = db.prepare(`INSERT OR REPLACE INTO series VALUES (?, ?, ?, ?, ?)`);
  const parser = (await body()).pipe(parse({ relax_column_count: true }));
  let at;
  let written = 0;
  db.exec('BEGIN');
  try {
    for await (const record of parser) {
      if (at === undefined) {
        at = Object.fromEntries(record.map((name, index) => [name, index]));
        continue;
      }
      const key = DIMENSIONS.map((name) => record[at[name]]);
      if (key[4] === '') {
        insertSeries.run(key[0], key[1], key[2], key[3], record[at.UNIT_MULT] || null);
      } else {
        insertObs.run(...key, record[at.OBS_VALUE] || null, record[at.OBS_STATUS] || null);
        written += 1;
      }
    }
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  } finally {
    db.close();
  }
  return written;
}

async function download() {
  let lines = 0;
  for await (const chunk of await body()) {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines += 1;
  }
  return lines;
}
