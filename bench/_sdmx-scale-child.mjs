/**
 * One measured run of bench/sdmx-scale.ts, in a process of its own so that its peak RSS and CPU
 * time are its own. Prints one JSON line: seconds (wall), cpuSeconds (user + system, every thread),
 * mainCpuSeconds / otherCpuSeconds (the busiest other thread: ours' SQLite writer thread, counted
 * up to the commit, as it ends with the store), baseRss and peakRss (bytes), rows (checked).
 *
 * Contenders (bench/_bench-kit.mjs):
 *   ours        the compiled dist/ (as shipped): SdmxSource -> runStream -> SqliteStore, a fresh file
 *   csv-sqlite  csv-parse -> better-sqlite3, the baseline
 *   download    node:http + gunzip, lines counted: the floor
 *
 * Run: node bench/_sdmx-scale-child.mjs <contender> <endpoint> <observations>
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkRows, csvParseToSqlite, downloadOnly, fullLoad } from './_bench-kit.mjs';

const [, , contender, endpoint, observationsArg] = process.argv;
const OBSERVATIONS = Number(observationsArg);

// The code under test is loaded before the clock starts, as a daemon has it loaded before a sync.
const dist = contender === 'ours' ? await loadDist() : undefined;
const baseRss = process.memoryUsage().rss;
const dir = mkdtempSync(join(tmpdir(), 'dss-bench-scale-'));
const path = join(dir, 'sync.db');
try {
  const cpuBefore = process.cpuUsage();
  const threadsBefore = threadTicks();
  const started = performance.now();
  let rows;
  // The store's writer thread ends when the store closes: its CPU time is read before.
  let threadsAtCommit;
  if (contender === 'ours') rows = await fullLoad(dist, endpoint, path, () => (threadsAtCommit = threadTicks()));
  else if (contender === 'csv-sqlite') rows = await csvParseToSqlite(endpoint, path);
  else if (contender === 'download') rows = await downloadOnly(endpoint);
  else throw new Error(`unknown contender ${contender}`);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (contender !== 'download') checkRows(path, contender === 'ours' ? 'bench_obs' : 'obs', OBSERVATIONS);
  else if (rows < OBSERVATIONS) throw new Error(`download: ${rows} lines, expected more than ${OBSERVATIONS}`);
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const threadsAfter = threadTicks();
  for (const [tid, seconds] of threadsAtCommit ?? []) if (!threadsAfter.has(tid)) threadsAfter.set(tid, seconds);
  const { mainCpuSeconds, otherCpuSeconds } = threadCpu(threadsBefore, threadsAfter);
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
 * CPU seconds of the main thread and of the busiest other thread (zlib's, in libuv's pool) during
 * the run: on an idle machine with two cores the larger of the two bounds the wall time, whatever
 * else runs on the VM meanwhile.
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
