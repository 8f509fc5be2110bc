/**
 * PostgreSQL next to SQLite (issue 9), in one run: the SDMX full load of 1,000,000 observations
 * and the 10,000-change incremental sync (7,000 revised observations as R rows, 3,000 deleted as D
 * rows, whole series) through SdmxSource -> runStream, into each engine. Each round serves a fresh
 * dataflow from the NSI simulator (its own process): both engines load it into an empty store, the
 * dataflow changes, both sync the changes; the order of the engines alternates between rounds, so
 * the VM's drift falls on both. Medians of the rounds; the ratio is PostgreSQL's speed over
 * SQLite's (1.0: as fast).
 * Run: node --import tsx bench/postgres-vs-sqlite.ts [--observations N] [--changes N] [--rounds N]
 * (PGURL, default postgres://postgres@127.0.0.1:5432/postgres; a schema of its own per load, dropped after.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { createHttpClient } from '../src/http/undici-client.js';
import { runStream, type RunResult } from '../src/runner/run-stream.js';
import { SdmxSource } from '../src/sources/sdmx/sdmx-source.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/store.js';
import { startNsiProcess } from './_nsi-process-client.js';

const { values: args } = parseArgs({
  options: {
    observations: { type: 'string', default: '1000000' },
    changes: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
  },
});
const OBSERVATIONS = Number(args.observations);
const CHANGES = Number(args.changes);
const ROUNDS = Math.max(1, Number(args.rounds));
const PG_URL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ENGINES = ['sqlite', 'postgres'] as const;
type Engine = (typeof ENGINES)[number];

interface Opened {
  readonly store: Store;
  /** Rows in a table, counted by the database (reading 1M rows back would dwarf what is measured). */
  count(table: string): Promise<number>;
  close(): Promise<void>;
}

async function openEngine(engine: Engine, round: number): Promise<Opened> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'dss-bench-pg-vs-sqlite-'));
    const path = join(dir, 'sync.db');
    const store = new SqliteStore({ path });
    await store.open();
    return {
      store,
      count: (table) => {
        const db = new Database(path, { readonly: true });
        try {
          return Promise.resolve((db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n);
        } finally {
          db.close();
        }
      },
      close: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `dss_bench_${process.pid}_${round}`;
  const store = new PostgresStore({ url: PG_URL, schema });
  await store.open();
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    store,
    count: (table) => admin(async (client) => Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}"."${table}"`)).rows[0]?.n)),
    close: async () => {
      await store.close();
      await admin((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    },
  };
}

async function main(): Promise<void> {
  const flows = Array.from({ length: ROUNDS }, (_, round) => ({ id: `DF_ROUND_${round}`, observations: OBSERVATIONS }));
  const nsi = await startNsiProcess(flows);
  const http = createHttpClient();
  const seconds: Record<Engine, { full: number[]; incremental: number[] }> = { sqlite: { full: [], incremental: [] }, postgres: { full: [], incremental: [] } };
  console.log(
    `PostgreSQL vs SQLite: SDMX full load of ${OBSERVATIONS.toLocaleString('en')} observations, then ${CHANGES.toLocaleString('en')} changes (70% R, 30% D); ` +
      `${ROUNDS} rounds, engines alternating; simulator in its own process; Node ${process.version}; PostgreSQL at ${PG_URL.replace(/:[^:@/]*@/, ':***@')}`,
  );
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      const id = flows[round]?.id as string;
      const order: readonly Engine[] = round % 2 === 0 ? ENGINES : [...ENGINES].reverse();
      const opened = new Map<Engine, Opened>();
      try {
        for (const engine of order) opened.set(engine, await openEngine(engine, round));
        const source = sdmxSource(nsi.url, id);
        const sync = async (engine: Engine): Promise<{ seconds: number; result: RunResult }> => {
          (globalThis as { gc?: () => void }).gc?.();
          const started = performance.now();
          const result = await runStream({ store: (opened.get(engine) as Opened).store, source, http, log: pino({ level: 'silent' }), signal: new AbortController().signal });
          return { seconds: (performance.now() - started) / 1000, result };
        };
        for (const engine of order) {
          const full = await sync(engine);
          if (full.result.upserted < OBSERVATIONS) throw new Error(`${engine}: the full load wrote ${full.result.upserted} rows`);
          seconds[engine].full.push(full.seconds);
        }
        // The watermark counts whole seconds: changes in the second of the load would be read again by the next sync (harmless, but not this benchmark).
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        const { revised, deleted } = await nsi.changes(id, CHANGES, 1);
        for (const engine of order) {
          const incremental = await sync(engine);
          if (incremental.result.upserted + incremental.result.deleted < revised + deleted) {
            throw new Error(`${engine}: the incremental sync wrote ${incremental.result.upserted} and deleted ${incremental.result.deleted}, expected ${revised} and ${deleted}`);
          }
          seconds[engine].incremental.push(incremental.seconds);
          const rows = await (opened.get(engine) as Opened).count(`${id.toLowerCase()}_obs`);
          if (rows !== OBSERVATIONS - deleted) throw new Error(`${engine}: ${rows} observations mirrored, expected ${OBSERVATIONS - deleted}`);
        }
        console.log(
          `round ${round + 1} (${order.join(' first, ')} second): ` +
            ENGINES.map((engine) => `${engine} full ${seconds[engine].full.at(-1)?.toFixed(2)} s, incremental ${seconds[engine].incremental.at(-1)?.toFixed(3)} s`).join('; '),
        );
      } finally {
        for (const each of opened.values()) await each.close().catch(() => undefined);
      }
    }
  } finally {
    await http.close();
    await nsi.close();
  }
  const rows = [
    ['full load', OBSERVATIONS, median(seconds.sqlite.full), median(seconds.postgres.full)],
    ['incremental', CHANGES, median(seconds.sqlite.incremental), median(seconds.postgres.incremental)],
  ] as const;
  console.log('\nwhat          rows  SQLite s (rows/s)        PostgreSQL s (rows/s)    PostgreSQL / SQLite speed');
  for (const [what, count, sqlite, postgres] of rows) {
    const rate = (s: number) => `${s.toFixed(3)} (${Math.round(count / s).toLocaleString('en')})`;
    console.log(`${what.padEnd(12)} ${String(count).padStart(7)}  ${rate(sqlite).padEnd(23)}  ${rate(postgres).padEnd(23)}  ${(sqlite / postgres).toFixed(2)}x`);
  }
}

function sdmxSource(endpoint: string, id: string): SdmxSource {
  return new SdmxSource({
    id: `sdmx:bench:BENCH:${id}(1.0):data`,
    jobId: 'bench',
    mode: 'data',
    endpoint,
    api: 'v1',
    dataflow: { agency: 'BENCH', id, version: '1.0' },
    prefix: id.toLowerCase(),
    overlapMs: 0,
    structureFormat: 'auto',
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

await main();
