/**
 * RPDE harvest benchmark (issue 4): the same loopback feed harvested from the beginning to the
 * last page by
 *   - a bare undici + JSON.parse loop with no store (the floor),
 *   - dataspace-sync: the RPDE source through runStream into SQLite, one commit per page,
 *   - @openactive/harvesting-utils (plain and lossless) with a no-op page processor.
 * Prints items/s and the ratios as a table. Run: node --import tsx bench/rpde-harvest.ts [--items N]
 * [--page-size N] [--runs N] [--big-modified]. Add --expose-gc to collect garbage between runs.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { harvestRPDE, harvestRPDELossless } from '@openactive/harvesting-utils';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { createHttpClient } from '../src/http/undici-client.js';
import { runStream } from '../src/runner/run-stream.js';
import { LARGE_MODIFIED_BASE } from '../src/simulators/rpde/rpde-feed.js';
import type { RpdePublisherOptions } from '../src/simulators/rpde/publisher.js';
import { RpdeFeedSource } from '../src/sources/rpde/rpde-source.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

interface Harvest {
  readonly items: number;
  readonly pages: number;
}

interface Result {
  readonly name: string;
  /** Median over the runs; undefined when the harvester could not run (the reason says why). */
  readonly itemsPerSecond: number | undefined;
  readonly seconds: number | undefined;
  readonly reason?: string;
}

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    'page-size': { type: 'string', default: '500' },
    runs: { type: 'string', default: '3' },
    'big-modified': { type: 'boolean', default: false },
  },
});
const ITEMS = Number(args.items);
const PAGE_SIZE = Number(args['page-size']);
const RUNS = Math.max(1, Number(args.runs));

const HU_NAME = '@openactive/harvesting-utils harvestRPDE, no-op store';

/** Thrown from harvesting-utils' end-of-feed callback: its loop only ever ends on an error. */
class ReachedEnd extends Error {}

async function main(): Promise<void> {
  const publisherOptions: RpdePublisherOptions = {
    items: ITEMS,
    pageSize: PAGE_SIZE,
    ...(args['big-modified'] ? { modifiedBase: LARGE_MODIFIED_BASE } : {}),
  };
  const { url, close } = await startPublisherProcess(publisherOptions);
  try {
    const sample = await request(url, { dispatcher: new Agent() });
    const pageBytes = (await sample.body.arrayBuffer()).byteLength;
    console.log(
      `RPDE harvest: ${ITEMS.toLocaleString('en')} items, pages of ${PAGE_SIZE}, ~${Math.round(pageBytes / PAGE_SIZE)} bytes per item on the wire` +
        `${args['big-modified'] ? ', modified above 2^53' : ''}; simulator in its own process; median of ${RUNS} run(s); Node ${process.version}`,
    );
    // One untimed pass so that the simulator's pages and the loopback path are warm for everyone.
    await bareUndiciHarvest(url);

    const contenders: Contender[] = [
      { name: 'bare undici + JSON.parse, no store (floor)', harvest: () => bareUndiciHarvest(url) },
      ours(url),
      { name: HU_NAME, harvest: () => harvestingUtils(url, false) },
      { name: '@openactive/harvesting-utils harvestRPDELossless, no-op store', harvest: () => harvestingUtils(url, true) },
    ];
    const results = await measure(contenders);
    printTable(results);
  } finally {
    await close();
  }
}

interface Contender {
  readonly name: string;
  readonly harvest: () => Promise<Harvest>;
}

/**
 * Runs every contender once per round rather than each one RUNS times in a row: on a shared
 * machine the load drifts, and interleaving spreads that drift over everyone instead of one.
 */
async function measure(contenders: readonly Contender[]): Promise<Result[]> {
  const rates = contenders.map((): number[] => []);
  const times = contenders.map((): number[] => []);
  const failures: (string | undefined)[] = contenders.map(() => undefined);
  for (let run = 0; run < RUNS; run += 1) {
    for (const [index, contender] of contenders.entries()) {
      if (failures[index] !== undefined) continue;
      collectGarbage();
      const started = performance.now();
      try {
        const result = await contender.harvest();
        const seconds = (performance.now() - started) / 1000;
        if (result.items !== ITEMS) throw new Error(`read ${result.items} items, expected ${ITEMS}`);
        rates[index]?.push(result.items / seconds);
        times[index]?.push(seconds);
      } catch (error) {
        failures[index] = describe(error);
      }
    }
  }
  return contenders.map((contender, index) => {
    const reason = failures[index];
    if (reason !== undefined) return { name: contender.name, itemsPerSecond: undefined, seconds: undefined, reason };
    return { name: contender.name, itemsPerSecond: median(rates[index] ?? []), seconds: median(times[index] ?? []) };
  });
}

/** The floor: fetch, parse, follow `next`; nothing stored, nothing validated. */
async function bareUndiciHarvest(startUrl: string): Promise<Harvest> {
  const dispatcher = new Agent();
  let url = startUrl;
  let items = 0;
  let pages = 0;
  try {
    for (;;) {
      const response = await request(url, { dispatcher });
      const page = JSON.parse(await response.body.text()) as { next: string; items: unknown[] };
      pages += 1;
      items += page.items.length;
      if (page.items.length === 0 && page.next === url) return { items, pages };
      url = page.next;
    }
  } finally {
    await dispatcher.close();
  }
}

async function harvestingUtils(baseUrl: string, lossless: boolean): Promise<Harvest> {
  let items = 0;
  let pages = 0;
  const quiet = (): void => undefined;
  const harvest = lossless ? harvestRPDELossless : harvestRPDE;
  const outcome = await harvest({
    baseUrl,
    feedContextIdentifier: 'bench',
    headers: () => Promise.resolve({}),
    processPage: ({ rpdePage }: { rpdePage: { items: unknown[] } }) => {
      pages += 1;
      items += rpdePage.items.length;
      return Promise.resolve();
    },
    onReachedEndOfFeed: () => Promise.reject(new ReachedEnd()),
    isOrdersFeed: false,
    loggingFns: { log: quiet, logError: quiet, logErrorDuringHarvest: quiet },
  });
  const { error } = outcome;
  if (error.type === 'unexpected-non-http-error' && error.error instanceof ReachedEnd) return { items, pages };
  throw new Error(`harvesting-utils stopped: ${error.type}`);
}

/** Our client: the RPDE source through runStream into a SQLite file, one transaction per page. */
function ours(feedUrl: string): Contender {
  return { name: 'dataspace-sync RPDE source -> SQLite, commit per page', harvest: () => ourHarvest(feedUrl) };
}

async function ourHarvest(feedUrl: string): Promise<Harvest> {
  const dir = mkdtempSync(join(tmpdir(), 'dss-bench-rpde-'));
  const path = join(dir, 'sync.db');
  const store = new SqliteStore({ path });
  const http = createHttpClient();
  try {
    await store.open();
    const source = new RpdeFeedSource({
      id: 'rpde:bench:sessions',
      jobId: 'bench',
      feedUrl,
      table: 'bench_items',
      pollIntervalMs: 8_000,
      retryAfterDefault: { minMs: 3_600_000, maxMs: 7_200_000 },
      tombstoneRetentionMs: 7 * 24 * 3_600_000,
      resyncAfterMs: 7 * 24 * 3_600_000,
      allowedOrigins: [],
    });
    const result = await runStream({
      store,
      source,
      http,
      log: pino({ level: 'silent' }),
      signal: new AbortController().signal,
    });
    await store.close();
    // Count what was committed, from the file, rather than trusting the runner's own totals.
    const db = new Database(path, { readonly: true });
    try {
      const row = db.prepare("SELECT count(*) AS n FROM bench_items WHERE state = 'updated'").get() as { n: number };
      return { items: row.n, pages: result.commits };
    } finally {
      db.close();
    }
  } finally {
    await store.close().catch(() => undefined);
    await http.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startPublisherProcess(options: RpdePublisherOptions): Promise<{ url: string; close: () => Promise<void> }> {
  const here = fileURLToPath(import.meta.url);
  const script = join(dirname(here), `rpde-publisher-process${extname(here)}`);
  // 'advanced' serialisation carries the bigint modifiedBase; execArgv carries tsx when used.
  const child = fork(script, [], { serialization: 'advanced', execArgv: process.execArgv, stdio: 'inherit' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { url: string }) => resolve(message.url));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the publisher process exited with code ${code}`)));
    child.send(options);
  });
  return {
    url,
    close: async () => {
      child.send('close');
      await exited;
    },
  };
}

function printTable(results: readonly Result[]): void {
  const baseline = results.find((result) => result.name === HU_NAME)?.itemsPerSecond;
  const rows = results.map((result) => [
    result.name,
    result.itemsPerSecond === undefined ? 'n/a' : Math.round(result.itemsPerSecond).toLocaleString('en'),
    result.seconds === undefined ? 'n/a' : result.seconds.toFixed(2),
    result.itemsPerSecond === undefined || baseline === undefined ? 'n/a' : `${(result.itemsPerSecond / baseline).toFixed(2)}x`,
  ]);
  const header = ['harvester', 'items/s', 'seconds', 'vs harvesting-utils'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ');
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
  for (const result of results) if (result.reason) console.log(`${result.name}: ${result.reason}`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

await main();
