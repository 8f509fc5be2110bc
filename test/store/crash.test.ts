import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialState } from '../../src/core/sync-state.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { compiled } from '../helpers/compiled.js';
import { scratchDir } from '../helpers/scratch-dir.js';
import { mulberry32 } from '../helpers/seeded-random.js';
import { crashTable, rowsOf, transitionBatches } from './crash-workload.js';

const root = scratchDir('dss-crash-');
afterAll(() => rmSync(root, { recursive: true, force: true }));
// Compiled with the e2e tier's tree: each child starts with plain node instead of tsx, and the test
// loads no TypeScript compiler of its own to transpile it.
const child = compiled('test/store/crash-child.ts');

type KillPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'marker'; readonly marker: string; readonly delayMs: number }
  | { readonly kind: 'afterSpawn'; readonly delayMs: number };

interface ChildRun {
  readonly markers: string[];
  readonly killed: boolean;
  readonly code: number | null;
  readonly stderr: string;
}

function runChild(path: string, plan: KillPlan): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    const markers: string[] = [];
    let stderr = '';
    let pending = '';
    const kill = (delayMs: number): void => {
      const go = (): void => {
        proc.kill('SIGKILL');
      };
      if (delayMs === 0) go();
      else setTimeout(go, delayMs);
    };
    if (plan.kind === 'afterSpawn') kill(plan.delayMs);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        markers.push(line);
        if (plan.kind === 'marker' && line === plan.marker) kill(plan.delayMs);
      }
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    proc.on('error', reject);
    // 'close' comes after both pipes are drained: every marker the child wrote is in `markers`.
    // Counted as killed only when the signal ended it, not when it had already exited on its own.
    proc.on('close', (code, signal) => resolve({ markers, killed: signal === 'SIGKILL', code, stderr }));
  });
}

async function readBack(path: string): Promise<{ gen: number; rows: Record<string, unknown>[] }> {
  const store = new SqliteStore({ path, readOnly: true });
  await store.open();
  try {
    const state = await store.readState('crash');
    return { gen: (state?.cursor as { gen: number }).gen, rows: await store.readTable(crashTable.name) };
  } finally {
    await store.close();
  }
}

describe('SQLite store under SIGKILL', () => {
  it('holds either the old cursor and none of the batch, or the new cursor and all of it, after every kill', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    const random = mulberry32(seed);
    const path = join(root, 'crash.db');
    const setup = new SqliteStore({ path });
    await setup.open();
    await setup.transaction(async (tx) => {
      await tx.apply([
        { op: 'ensureTable', spec: crashTable },
        { op: 'upsert', table: crashTable.name, columns: crashTable.columns.map((column) => column.name), rows: rowsOf(0).map((row) => [row.series, row.period, row.value, row.gen, row.flag]) },
      ]);
      await tx.writeState({ ...initialState('crash', 'crash-job', 'test'), cursor: { gen: 0 } });
    });
    await setup.close();

    const batches = transitionBatches(0).length;
    // A kill aimed late can miss a child that already finished, more often on a fast machine:
    // rounds go on until enough kills landed, within a bound.
    const wantedKills = 22;
    const maxRounds = 45;
    let kills = 0;
    let rolledBack = 0;
    let committed = 0;
    let gen = 0;
    for (let round = 0; kills < wantedKills && round < maxRounds; round++) {
      const pick = random();
      let plan: KillPlan;
      if (round % 7 === 6) plan = { kind: 'none' };
      else if (pick < 0.35) plan = { kind: 'marker', marker: `batch ${Math.floor(random() * batches)}`, delayMs: Math.floor(random() * 3) };
      else if (pick < 0.75) plan = { kind: 'marker', marker: 'state', delayMs: Math.floor(random() * 3) };
      else if (pick < 0.9) plan = { kind: 'marker', marker: `ready ${gen}`, delayMs: Math.floor(random() * 15) };
      else plan = { kind: 'afterSpawn', delayMs: 20 + Math.floor(random() * 120) };

      const run = await runChild(path, plan);
      const context = `seed ${seed}, round ${round}, plan ${JSON.stringify(plan)}, markers ${run.markers.join('|')}, stderr ${run.stderr.slice(0, 500)}`;
      if (run.killed) kills += 1;
      else expect(run.code, context).toBe(0);

      const after = await readBack(path);
      expect([gen, gen + 1], context).toContain(after.gen);
      // A child stopped before announcing its last step cannot have committed; one that reported the commit must have.
      if (!run.markers.includes('state')) expect(after.gen, context).toBe(gen);
      if (run.markers.includes('committed')) expect(after.gen, context).toBe(gen + 1);
      expect(after.rows, context).toEqual(rowsOf(after.gen));
      if (after.gen === gen) rolledBack += 1;
      else committed += 1;
      gen = after.gen;
    }
    console.log(`crash test (seed ${seed}): ${kills} kills, ${committed} commits survived, ${rolledBack} transactions rolled back`);
    expect(kills).toBeGreaterThanOrEqual(20);
    expect(committed).toBeGreaterThanOrEqual(4);
  }, 90_000);
});
