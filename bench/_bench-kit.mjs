/**
 * What the benchmarks share: their command-line options, medians and tables, and for the SDMX ones
 * the full load as shipped and the csv-parse -> better-sqlite3 baseline it is measured against.
 * Plain JavaScript so that the benchmarks which run the compiled dist/ in a process of their own
 * (bench/_sdmx-scale-child.mjs) load it without the TypeScript loader (~40 MB of RSS); the .ts
 * benchmarks get its types from _bench-kit.d.mts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createGunzip } from 'node:zlib';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse';

/**
 * The options of a benchmark, each with its default: a number default makes a numeric option
 * (refused unless a positive number), a string one a text option, `false` a flag.
 */
export function benchArgs(defaults) {
  const options = Object.fromEntries(
    Object.entries(defaults).map(([name, value]) => [name, typeof value === 'boolean' ? { type: 'boolean', default: value } : { type: 'string', default: String(value) }]),
  );
  const { values } = parseArgs({ options });
  return Object.fromEntries(
    Object.entries(defaults).map(([name, value]) => {
      if (typeof value !== 'number') return [name, values[name]];
      const number = Number(values[name]);
      if (!Number.isFinite(number) || number <= 0) throw new Error(`--${name} wants a positive number, got ${JSON.stringify(values[name])}`);
      return [name, number];
    }),
  );
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Bytes in MiB, rounded. */
export function mib(bytes) {
  return Math.round(bytes / 2 ** 20);
}

/** Prints a table with its first column left-aligned and the others right-aligned. */
export function printTable(header, rows) {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** The full-load dataflow of the NSI benchmark process (bench/sdmx-nsi-process.ts). */
export const FULL_LOAD_FLOW = 'DF_FULL';
const DIMENSIONS = ['FREQ', 'REF_AREA', 'MEASURE', 'UNIT_MEASURE', 'TIME_PERIOD'];

export function fullLoadDataUrl(endpoint) {
  return `${endpoint}/data/BENCH,${FULL_LOAD_FLOW},1.0/all`;
}

/**
 * One SDMX full load as the daemon runs it (SdmxSource -> runStream -> SqliteStore) into a fresh
 * file at `path`, with the modules given (src/ under tsx, or the compiled dist/). Returns the rows
 * the run upserted; the observations table is `bench_obs`.
 */
export async function fullLoad({ createHttpClient, runStream, SdmxSource, SqliteStore, pino }, endpoint, path, beforeClose = () => {}) {
  const store = new SqliteStore({ path });
  const http = createHttpClient();
  try {
    await store.open();
    const source = new SdmxSource({
      id: `sdmx:bench:BENCH:${FULL_LOAD_FLOW}(1.0):data`,
      jobId: 'bench',
      mode: 'data',
      endpoint,
      api: 'v1',
      dataflow: { agency: 'BENCH', id: FULL_LOAD_FLOW, version: '1.0' },
      prefix: 'bench',
      overlapMs: 5 * 60_000,
      structureFormat: 'auto',
    });
    const result = await runStream({ store, source, http, log: pino({ level: 'silent' }), signal: new AbortController().signal });
    beforeClose();
    return result.upserted;
  } finally {
    await store.close();
    await http.close();
  }
}

/** fullLoad into a fresh file in a temporary folder, removed after; returns its seconds once the file is checked to hold `observations`. */
export async function timedFullLoad(modules, endpoint, observations) {
  const dir = mkdtempSync(join(tmpdir(), 'dss-bench-sdmx-'));
  const path = join(dir, 'sync.db');
  try {
    const started = performance.now();
    await fullLoad(modules, endpoint, path);
    const seconds = (performance.now() - started) / 1000;
    checkRows(path, 'bench_obs', observations);
    return seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Counts a table's rows from the file, rather than trusting what the contender reported; throws unless `expected`. */
export function checkRows(path, table, expected) {
  const db = new Database(path, { readonly: true });
  try {
    const { n } = db.prepare(`SELECT count(*) AS n FROM ${table}`).get();
    if (n !== expected) throw new Error(`${path}: ${table} holds ${n} rows, expected ${expected}`);
  } finally {
    db.close();
  }
}

/** The full load's answer, decompressed, over node:http (no undici: its read-back under backpressure is not what is measured). */
export function fullLoadBody(endpoint) {
  return new Promise((resolve, reject) => {
    get(fullLoadDataUrl(endpoint), { headers: { accept: 'application/vnd.sdmx.data+csv;version=2.0.0', 'accept-encoding': 'gzip' } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
      resolve(res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res);
    }).on('error', reject);
  });
}

/**
 * The baseline: the full load's answer parsed by csv-parse, each record inserted with a prepared
 * `INSERT OR REPLACE` in one transaction, into the two `WITHOUT ROWID` tables ours writes
 * (observations by their 5-dimension key, series attributes by their 4), with the same pragmas
 * and durability (WAL, synchronous=FULL, 32 MB of cache). No SDMX semantics. Returns the
 * observations written; the table is `obs`.
 */
export async function csvParseToSqlite(endpoint, path) {
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
  const parser = (await fullLoadBody(endpoint)).pipe(parse({ relax_column_count: true }));
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

/** The floor: the full load's answer downloaded and decompressed, its lines counted. */
export async function downloadOnly(endpoint) {
  let lines = 0;
  for await (const chunk of await fullLoadBody(endpoint)) {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines += 1;
  }
  return lines;
}
