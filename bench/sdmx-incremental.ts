/**
 * SDMX incremental sync benchmark (issue 3): 10,000 changes (7,000 revised observations as R rows,
 * 3,000 deleted ones as D rows) made at the NSI simulator (its own process) after a full load,
 * then one `updatedAfter` sync through SdmxSource -> runStream -> SQLite, timed. Done against a
 * 1,000,000-observation base and a 10,000-observation base of the same shape: the cost should
 * follow the changes, not the size of the dataflow. Two spreads: changes that revise whole series
 * (contiguous keys, as data spaces usually change), and changes scattered over the whole key space.
 * Run: node --import tsx bench/sdmx-incremental.ts [--base N] [--small-base N] [--changes N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { createHttpClient } from '../src/http/undici-client.js';
import { runStream } from '../src/runner/run-stream.js';
import { SdmxSource } from '../src/sources/sdmx/sdmx-source.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { startNsiProcess, type NsiProcess } from './_nsi-process-client.js';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string', default: '1000000' },
    'small-base': { type: 'string', default: '10000' },
    changes: { type: 'string', default: '10000' },
  },
});
const CHANGES = Number(args.changes);
const BIG = Number(args.base);
const SMALL = Number(args['small-base']);
/** How the changed observations lie in the key space (see sdmx-nsi-process.ts). */
const SPREADS = [
  { name: 'whole series (stride 1)', stride: 1 },
  { name: 'scattered (stride 9973)', stride: 9973 },
];
// Measured first and not reported: whichever base came first would otherwise also pay for
// compiling the incremental code paths (about 0.2 s), which says nothing about the base's size.
const warmUp = { id: 'DF_WARM_UP', observations: SMALL };
const cases = SPREADS.flatMap((spread, s) => [
  { spread, id: `DF_BIG_${s}`, observations: BIG },
  { spread, id: `DF_SMALL_${s}`, observations: SMALL },
]);

interface Measured {
  readonly base: number;
  readonly fullLoadSeconds: number;
  readonly incrementalSeconds: number;
  readonly revised: number;
  readonly deleted: number;
}

async function main(): Promise<void> {
  const nsi = await startNsiProcess([warmUp, ...cases]);
  try {
    console.log(
      `SDMX incremental sync: ${CHANGES.toLocaleString('en')} changes (70% R, 30% D) after a full load; simulator in its own process; Node ${process.version}`,
    );
    await measure(nsi, warmUp.id, warmUp.observations, 1);
    const header = ['changes', 'base observations', 'full load s', 'incremental s', 'changes/s', 'vs small base'];
    const rows: string[][] = [];
    for (const spread of SPREADS) {
      const results: Measured[] = [];
      for (const c of cases.filter((candidate) => candidate.spread === spread)) results.push(await measure(nsi, c.id, c.observations, spread.stride));
      const small = results.find((r) => r.base === SMALL);
      for (const r of results) {
        rows.push([
          spread.name,
          r.base.toLocaleString('en'),
          r.fullLoadSeconds.toFixed(2),
          r.incrementalSeconds.toFixed(3),
          Math.round((r.revised + r.deleted) / r.incrementalSeconds).toLocaleString('en'),
          small ? `${(r.incrementalSeconds / small.incrementalSeconds).toFixed(2)}x` : 'n/a',
        ]);
      }
    }
    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
    const line = (cells: readonly string[]): string => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ');
    console.log(line(header));
    console.log(widths.map((width) => '-'.repeat(width)).join('  '));
    for (const row of rows) console.log(line(row));
  } finally {
    await nsi.close();
  }
}

async function measure(nsi: NsiProcess, id: string, observations: number, stride: number): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'dss-bench-sdmx-inc-'));
  const path = join(dir, 'sync.db');
  const store = new SqliteStore({ path });
  const http = createHttpClient();
  const prefix = id.toLowerCase();
  const source = new SdmxSource({
    id: `sdmx:bench:BENCH:${id}(1.0):data`,
    jobId: 'bench',
    mode: 'data',
    endpoint: nsi.url,
    api: 'v1',
    dataflow: { agency: 'BENCH', id, version: '1.0' },
    prefix,
    overlapMs: 5 * 60_000,
    structureFormat: 'auto',
  });
  const sync = async (): Promise<number> => {
    collectGarbage();
    const started = performance.now();
    await runStream({ store, source, http, log: pino({ level: 'silent' }), signal: new AbortController().signal });
    return (performance.now() - started) / 1000;
  };
  try {
    await store.open();
    const fullLoadSeconds = await sync();
    const { revised, deleted } = await nsi.changes(id, CHANGES, stride);
    const incrementalSeconds = await sync();
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      const { n } = db.prepare(`SELECT count(*) AS n FROM ${prefix}_obs`).get() as { n: number };
      const { e } = db.prepare(`SELECT count(*) AS e FROM ${prefix}_obs WHERE OBS_STATUS = 'E'`).get() as { e: number };
      if (n !== observations - deleted || e !== revised) {
        throw new Error(`${id}: the mirror holds ${n} observations (${e} revised), expected ${observations - deleted} (${revised})`);
      }
    } finally {
      db.close();
    }
    return { base: observations, fullLoadSeconds, incrementalSeconds, revised, deleted };
  } finally {
    await store.close().catch(() => undefined);
    await http.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

await main();
