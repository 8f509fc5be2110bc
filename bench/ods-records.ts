/**
 * ODS records benchmark (issue 8): a 100,000-record dataset on the simulated portal (its own
 * process), mirrored into SQLite by the ods-records source in snapshot mode. Reported: the first
 * sync (records/s, peak RSS of its process), an unchanged sync (export requests made: none
 * expected), then a sync after 1 % of the records changed (rows written to the mirror, time), next
 * to the "drop and reload everything" baseline measured in the same run on the same content.
 * Each sync runs in its own process (bench/ods-sync-process.ts), so each peak RSS is its own.
 * With --postgres URL, the same again on PostgreSQL (a schema of its own, dropped at the end).
 * Run: node --import tsx bench/ods-records.ts [--records N] [--repeat N] [--postgres URL]
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { PortalBenchReply, PortalBenchRequest } from './ods-portal-process.js';

const { values: args } = parseArgs({
  options: { records: { type: 'string', default: '100000' }, repeat: { type: 'string', default: '3' }, postgres: { type: 'string' } },
});
const RECORDS = Number(args.records);
const REPEAT = Number(args.repeat);
const here = dirname(fileURLToPath(import.meta.url));
const ext = extname(fileURLToPath(import.meta.url));

interface Sync {
  readonly seconds: number;
  /** Of which applying changes in the store (the rest: reading the export, HTTP, parsing). */
  readonly storeSeconds: number;
  readonly upserted: number;
  readonly deleted: number;
  readonly commits: number;
  readonly maxRssMb: number;
}

function startPortal(): { ask: (request: PortalBenchRequest) => Promise<PortalBenchReply>; close: () => Promise<void> } {
  const child = fork(join(here, `ods-portal-process${ext}`), [], { execArgv: process.execArgv.filter((arg) => arg !== '--expose-gc'), stdio: 'inherit' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ask = (request: PortalBenchRequest) =>
    new Promise<PortalBenchReply>((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`the portal process exited with code ${code}`));
      child.once('exit', onExit);
      child.once('message', (reply: PortalBenchReply) => {
        child.off('exit', onExit);
        resolve(reply);
      });
      child.send(request);
    });
  return {
    ask,
    close: async () => {
      child.send({ type: 'close' } satisfies PortalBenchRequest);
      await exited;
    },
  };
}

function sync(url: string, path: string, reset = false): Sync {
  const loader = ext === '.ts' ? ['--import', 'tsx'] : [];
  const out = execFileSync(process.execPath, [...loader, join(here, `ods-sync-process${ext}`), url, path, ...(reset ? ['reset'] : [])], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1) as string) as Sync;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const fmt = (value: number, digits = 2): string => value.toFixed(digits);

async function main(): Promise<void> {
  await measure('SQLite', (dir, run) => join(dir, `sync-${run}.db`));
  const postgres = args.postgres;
  if (postgres !== undefined) {
    const schemas: string[] = [];
    try {
      await measure('PostgreSQL', (_dir, run) => {
        schemas.push(`dss_bench_ods_${process.pid}_${run}`);
        return `${postgres}#${schemas.at(-1) as string}`;
      });
    } finally {
      const client = new pg.Client({ connectionString: postgres });
      await client.connect();
      for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  }
}

async function measure(engine: string, storeOf: (dir: string, run: number) => string): Promise<void> {
  console.log(`ODS records: ${RECORDS.toLocaleString('en')} records, snapshot mode, ${engine}; portal simulator in its own process; each sync in its own process; Node ${process.version}; median of ${REPEAT}`);
  const rows: string[] = [];
  const firsts: Sync[] = [];
  const changed: Sync[] = [];
  const reloads: Sync[] = [];
  const unchangedExports: number[] = [];
  for (let run = 0; run < REPEAT; run += 1) {
    const portal = startPortal();
    const dir = mkdtempSync(join(tmpdir(), 'dss-bench-ods-'));
    try {
      const started = await portal.ask({ type: 'start', records: RECORDS });
      if (started.type !== 'started') throw new Error('unexpected reply from the portal process');
      const path = storeOf(dir, run);
      firsts.push(sync(started.url, path));
      const before = await portal.ask({ type: 'exports' });
      sync(started.url, path);
      const after = await portal.ask({ type: 'exports' });
      if (before.type === 'exports' && after.type === 'exports') unchangedExports.push(after.count - before.count);
      const edit = await portal.ask({ type: 'change', share: 0.01 });
      if (edit.type !== 'changed') throw new Error('unexpected reply from the portal process');
      changed.push(sync(started.url, path));
      reloads.push(sync(started.url, path, true));
      const show = (sync: Sync | undefined) => `${fmt(sync?.seconds ?? 0)} s (store ${fmt(sync?.storeSeconds ?? 0)} s)`;
      rows.push(`  run ${run + 1}: first ${show(firsts.at(-1))}, 1% changed ${show(changed.at(-1))} (${edit.edited} records edited), reload ${show(reloads.at(-1))}`);
    } finally {
      await portal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const first = median(firsts.map((s) => s.seconds));
  const diff = median(changed.map((s) => s.seconds));
  const reload = median(reloads.map((s) => s.seconds));
  console.log(rows.join('\n'));
  console.log(`first sync:       ${fmt(first)} s, ${Math.round(RECORDS / first).toLocaleString('en')} records/s, peak RSS ${fmt(median(firsts.map((s) => s.maxRssMb)), 0)} MB (max ${fmt(Math.max(...firsts.map((s) => s.maxRssMb)), 0)} MB)`);
  console.log(`unchanged sync:   export requests ${unchangedExports.join(', ')}`);
  const diffStore = median(changed.map((s) => s.storeSeconds));
  const reloadStore = median(reloads.map((s) => s.storeSeconds));
  console.log(
    `1% changed:       ${fmt(diff)} s, of which store ${fmt(diffStore)} s; mirror rows written ${changed.map((s) => `${s.upserted} upserted + ${s.deleted} deleted`).join(', ')}; peak RSS ${fmt(median(changed.map((s) => s.maxRssMb)), 0)} MB`,
  );
  console.log(
    `drop and reload:  ${fmt(reload)} s, of which store ${fmt(reloadStore)} s; mirror rows written ${reloads.map((s) => s.upserted).join(', ')}; peak RSS ${fmt(median(reloads.map((s) => s.maxRssMb)), 0)} MB`,
  );
  console.log(`ratio reload / 1% changed: ${fmt(reload / diff)}x whole sync, ${fmt(reloadStore / diffStore)}x store work (same run, same content)`);
}

await main();
