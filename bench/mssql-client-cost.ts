/**
 * SQL Server engine, client side: what writing 100,000 rows costs this process (CPU time, wall
 * time) and the wire (bytes sent), against the fake TDS server (test/helpers/fake-tds-server.ts)
 * running in a process of its own. The fake server answers at once and does nothing with the
 * rows, so this measures our engine and the driver (building statements, serialising parameters
 * or the bulk-load stream), never SQL Server. No SQL Server runs here.
 *
 * Rows are SDMX-shaped (a five-column text key, a float value, a text status) and built before
 * the clock starts. Measured, each in one transaction, median of --runs:
 *   - upsert, bulk path: upserts of --batch rows (past one statement's 2,098 parameters, so each is
 *     a bulk load into #dss_rows and one MERGE);
 *   - upsert, VALUES path (the baseline, same run): the same rows in upserts of 299 rows, each
 *     one MERGE over a VALUES list of 2,093 bound parameters;
 *   - delete by exact key, bulk path: deleteWhere of --batch keys (bulk-loaded #dss_keys, one DELETE ... JOIN).
 * Run: node --import tsx bench/mssql-client-cost.ts [--rows N] [--batch N] [--runs N]
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ChangeOp } from '../src/core/ops.js';
import type { Cell, PartialKey, TableSpec } from '../src/core/tables.js';
import { MssqlStore } from '../src/store/mssql/mssql-store.js';
import { benchArgs, median } from './_bench-kit.mjs';
import type { FakeServerReply } from './mssql-fake-server-process.js';

const { rows: rowCount, batch: batchSize, runs } = benchArgs({ rows: 100_000, batch: 5000, runs: 5 });

const dimensions = ['FREQ', 'REF_AREA', 'MEASURE', 'UNIT', 'TIME_PERIOD'];
const spec: TableSpec = {
  name: 'bench_obs',
  columns: [...dimensions.map((name) => ({ name, type: 'text' as const })), { name: 'OBS_VALUE', type: 'real' }, { name: 'OBS_STATUS', type: 'text' }],
  primaryKey: dimensions,
};
const columns = spec.columns.map((column) => column.name);
const rows: Cell[][] = Array.from({ length: rowCount }, (_, index) => {
  const series = Math.floor(index / 50);
  return ['A', `C${String(Math.floor(series / 400)).padStart(3, '0')}`, `M${series % 20}`, 'PC', String(1970 + (index % 50)), index * 0.5, index % 7 === 0 ? 'E' : null];
});
const keys: PartialKey[] = rows.map((row) => Object.fromEntries(dimensions.map((name, index) => [name, row[index] as string])));

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

const server = fork(fileURLToPath(new URL('./mssql-fake-server-process.ts', import.meta.url)), { execArgv: ['--import', 'tsx'] });
const replies: ((reply: FakeServerReply) => void)[] = [];
server.on('message', (reply: FakeServerReply) => replies.shift()?.(reply));
const next = (): Promise<FakeServerReply> => new Promise((resolve) => replies.push(resolve));
const started = await next();
if (started.type !== 'started') throw new Error('the fake server did not start');
const stats = async (): Promise<Extract<FakeServerReply, { type: 'stats' }>> => {
  const reply = next();
  server.send({ type: 'stats' });
  const answer = await reply;
  if (answer.type !== 'stats') throw new Error('unexpected answer from the fake server');
  return answer;
};

const store = new MssqlStore({ server: '127.0.0.1', port: started.port, user: 'bench', password: 'bench', encrypt: false, schema: 'bench' });
await store.open();
await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec }]));
await stats();

interface Sample {
  cpuMs: number;
  wallMs: number;
  bytes: number;
  requests: number;
  bulkRows: number;
  rpcParams: number;
}

async function measure(ops: readonly ChangeOp[]): Promise<Sample> {
  globalThis.gc?.();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await store.transaction(async (tx) => {
    for (const op of ops) await tx.apply([op]);
  });
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const wire = await stats();
  return { cpuMs: (used.user + used.system) / 1000, wallMs, bytes: wire.bytes, requests: wire.requests, bulkRows: wire.bulkRows, rpcParams: wire.rpcParams };
}

const cases: { name: string; ops: ChangeOp[] }[] = [
  { name: `upsert, bulk path (${batchSize}-row upserts)`, ops: chunks(rows, batchSize).map((part) => ({ op: 'upsert', table: 'bench_obs', columns, rows: part })) },
  { name: 'upsert, VALUES path (299-row upserts; baseline)', ops: chunks(rows, 299).map((part) => ({ op: 'upsert', table: 'bench_obs', columns, rows: part })) },
  { name: `deleteWhere by exact key, bulk path (${batchSize} keys an op)`, ops: chunks(keys, batchSize).map((part) => ({ op: 'deleteWhere', table: 'bench_obs', keys: part })) },
];

const per100k = (value: number): number => (value * 100_000) / rowCount;
const results = new Map<string, Sample[]>();
// Interleaved, so that a slow spell of the machine hits every case alike.
for (let run = 0; run < runs; run++) {
  for (const { name, ops } of cases) {
    const list = results.get(name) ?? [];
    list.push(await measure(ops));
    results.set(name, list);
  }
}
await store.close();
server.send({ type: 'close' });

process.stdout.write(`${rowCount} rows, median of ${runs} runs, per 100,000 rows:\n\n`);
process.stdout.write('| case | client CPU | wall | sent | requests | bulk rows | bound parameters |\n|---|---|---|---|---|---|---|\n');
const baseline = median(results.get(cases[1]?.name ?? '')?.map((sample) => sample.cpuMs) ?? []);
for (const { name } of cases) {
  const samples = results.get(name) ?? [];
  const cpu = median(samples.map((sample) => sample.cpuMs));
  const cpuRange = `${Math.round(per100k(Math.min(...samples.map((s) => s.cpuMs))))}-${Math.round(per100k(Math.max(...samples.map((s) => s.cpuMs))))}`;
  const line = [
    name,
    `${Math.round(per100k(cpu))} ms (${cpuRange}; ${(cpu / baseline).toFixed(2)}x baseline)`,
    `${Math.round(per100k(median(samples.map((sample) => sample.wallMs))))} ms`,
    `${(per100k(median(samples.map((sample) => sample.bytes))) / 1e6).toFixed(1)} MB`,
    String(Math.round(per100k(median(samples.map((sample) => sample.requests))))),
    String(Math.round(per100k(median(samples.map((sample) => sample.bulkRows))))),
    String(Math.round(per100k(median(samples.map((sample) => sample.rpcParams))))),
  ];
  process.stdout.write(`| ${line.join(' | ')} |\n`);
}
