/**
 * Store upsert benchmark: how many rows per second a store engine writes for an SDMX-shaped table
 * (six text dimensions as the primary key, in key order as .Stat serves them), in 10k-row upsert
 * operations inside one transaction:
 *   - full load: replaceTable, then every row (the first sync of a dataflow),
 *   - update: the same keys again with new values (a re-sync that touches everything),
 *   - sparse: like update, but every third row omits a cell (two statement shapes interleaved).
 * Rows are built before the clock starts, so only the store is measured. Rates are given per wall
 * second and per CPU second of this process: on a shared machine the second is the steadier one
 * (for PostgreSQL it leaves out the server's work, so read its wall rate).
 * Run: node --import tsx bench/store-upsert.ts [--rows N] [--batch N] [--values N] [--engine sqlite|postgres]
 * (postgres reads PGURL, default postgres://postgres@127.0.0.1:5432/postgres, and works in a throwaway schema).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { ChangeOp } from '../src/core/ops.js';
import type { Cell, TableSpec } from '../src/core/tables.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '10000' },
    values: { type: 'string', default: '0', short: 'v' },
    engine: { type: 'string', default: 'sqlite' },
  },
});
const rowCount = Number(args.rows);
const batchSize = Number(args.batch);
const valueColumns = Number(args.values);

const dimensions = ['FREQ', 'REF_AREA', 'MEASURE', 'UNIT', 'ADJUSTMENT', 'TIME_PERIOD'];
const values = Array.from({ length: valueColumns }, (_, index) => (index === 0 ? 'OBS_VALUE' : `ATTR_${index}`));
const spec: TableSpec = {
  name: 'bench_obs',
  columns: [...dimensions, ...values].map((name) => ({ name, type: 'text' as const })),
  primaryKey: dimensions,
};
const columns = spec.columns.map((column) => column.name);

/** Row i of the table, in primary-key order: 50 periods per series. */
function row(index: number, round: number, sparse: boolean): Cell[] {
  const series = Math.floor(index / 50);
  const cells: Cell[] = [
    'A',
    `C${String(Math.floor(series / 400)).padStart(3, '0')}`,
    `M${String(Math.floor(series / 20) % 20).padStart(2, '0')}`,
    `U${series % 20 < 10 ? 'EUR' : 'USD'}${series % 10}`,
    'N',
    String(1970 + (index % 50)),
  ];
  for (let v = 0; v < valueColumns; v++) cells.push(sparse && v > 0 && index % 3 === 0 ? undefined : `${(index * 1.25 + round).toFixed(2)}`);
  return cells;
}

function batches(round: number, sparse: boolean): ChangeOp[] {
  const ops: ChangeOp[] = [];
  for (let start = 0; start < rowCount; start += batchSize) {
    const rows: Cell[][] = [];
    for (let index = start; index < Math.min(rowCount, start + batchSize); index++) rows.push(row(index, round, sparse));
    ops.push({ op: 'upsert', table: spec.name, columns, rows });
  }
  return ops;
}

async function timed(store: Store, first: ChangeOp[], ops: ChangeOp[]): Promise<{ seconds: number; cpuSeconds: number; written: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let written = 0;
  await store.transaction(async (tx) => {
    await tx.apply(first);
    for (const op of ops) written += (await tx.apply([op])).upserted;
  });
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6, written };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dss-bench-store-'));
  const schema = `bench_${process.pid}`;
  const pgUrl = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const store =
    args.engine === 'postgres'
      ? await openStore({ engine: 'postgres', url: pgUrl, schema })
      : await openStore({ engine: 'sqlite', path: join(dir, 'bench.db') });
  try {
    console.log(`${args.engine}: ${rowCount} rows, ${columns.length} text columns (${dimensions.length}-column key), ${batchSize}-row upserts, one transaction`);
    const scenarios: [string, ChangeOp[], ChangeOp[]][] = [
      ['full load', [{ op: 'replaceTable', spec }], batches(0, false)],
      ['update', [{ op: 'ensureTable', spec }], batches(1, false)],
      ['sparse', [{ op: 'ensureTable', spec }], batches(2, true)],
    ];
    for (const [name, first, ops] of scenarios) {
      if (name === 'sparse' && valueColumns < 2) continue;
      const { seconds, cpuSeconds, written } = await timed(store, first, ops);
      const rate = (time: number): string => Math.round(rowCount / time).toLocaleString('en').padStart(10);
      console.log(`${name.padEnd(10)} ${rate(seconds)} rows/s wall  ${rate(cpuSeconds)} rows/s of this process's CPU  (${seconds.toFixed(2)} s, ${written} rows written)`);
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    if (args.engine === 'postgres') {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  }
}

await main();
