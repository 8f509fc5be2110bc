import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { startCli, type CliProcess } from './cli.js';
import type { PrivateCluster } from './pg-cluster.js';
import { rowDifference } from './row-difference.js';
import { mulberry32 } from './seeded-random.js';
import { startTestbed, TESTBED_KINDS, type Testbed } from './testbeds.js';

/**
 * The crash loop (issue 11), run by test/hardening/crash-loop-*.test.ts, one file per engine so
 * that both run at once: the compiled daemon (`run`) mirrors every kind of source (SDMX, RPDE,
 * ODS catalog and records, each behind a fault proxy that now and then stalls an answer; the
 * records job also pushes them to an ODS realtime dataset, so the pusher is killed too) while
 * the sources change, and is killed with SIGKILL at random moments, CRASH_KILLS times (50 by
 * default; the seed is printed, CRASH_SEED replays it), restarted each time; on PostgreSQL the
 * server itself restarts in the middle, with the daemon running. Then a last daemon runs until
 * the store equals the sources, table by table, row for row, and stops cleanly.
 *
 * The PostgreSQL restart uses a private throwaway cluster (initdb + pg_ctl on a free port), not a
 * TCP proxy that drops connections: a real restart ends sessions the way administrators and
 * failovers do (57P01 admin shutdown, then refused connections while it is down), and the shared
 * server at PGURL, which other test files use at the same time, is never touched.
 */

export const KILLS = Number(process.env['CRASH_KILLS'] ?? 50);
const SEED = Number(process.env['CRASH_SEED'] ?? Date.now() % 1_000_000);
const CONVERGENCE_MS = Number(process.env["CRASH_CONVERGENCE_MS"] ?? 120_000);

export interface CrashLoopEngine {
  readonly name: 'sqlite' | 'postgres';
  readonly store: Record<string, unknown>;
  open(): Promise<Store>;
  /** The PostgreSQL server's restart, or nothing. */
  readonly server?: PrivateCluster;
}

export async function crashLoop(engine: CrashLoopEngine): Promise<void> {
  const random = mulberry32(SEED);
  const dir = mkdtempSync(join(tmpdir(), `dss-crash-loop-${engine.name}-`));
  const beds: Testbed[] = [];
  try {
    for (const kind of TESTBED_KINDS) beds.push(await startTestbed(kind));
    const configPath = join(dir, 'sync.config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        store: engine.store,
        server: { host: '127.0.0.1', port: 0 },
        client: { retries: 1, maxRetryDelay: '1s', bodyTimeout: '5s' },
        defaults: { schedules: [{ every: '1s' }], jitter: '0s', backoff: { initial: '1s', max: '2s' } },
        log: { level: 'info' },
        jobs: beds.map((bed) => bed.job),
      }),
    );
    let round = 0;
    let kills = 0;
    let midTransfer = 0;
    const restartAt = engine.server === undefined ? -1 : Math.floor(KILLS / 2);
    const loopStart = Date.now();
    for (let kill = 0; kill < KILLS; kill += 1) {
      const daemon = startCli(['run', '--config', configPath]);
      // Some kills land while it starts (opening the store, migrating, expanding jobs); most once
      // it has started, while its runs read the sources and commit.
      const whileStarting = random() < 0.2;
      const lifetime = whileStarting ? random() * 1_500 : random() * 1_500;
      let born = Date.now();
      let started = whileStarting;
      while (Date.now() - born < lifetime || !started) {
        await sleep(50 + random() * 250);
        if (!started && (daemon.output().includes('"daemon started"') || daemon.child.exitCode !== null)) {
          started = true;
          born = Date.now();
        }
        if (random() < 0.35) beds[Math.floor(random() * beds.length)]?.change((round += 1));
        // A stalled answer keeps a run open, so more kills land in the middle of one.
        if (random() < 0.5) {
          const bed = beds[Math.floor(random() * beds.length)] as Testbed;
          bed.proxy.inject({ type: 'stall', afterBytes: Math.floor(random() * 300), ms: 200 + Math.floor(random() * 1_000) }, { match: bed.dataRequests });
        }
      }
      if (kill === restartAt && engine.server !== undefined) {
        // The server goes away for a while under a running daemon (one that has opened its store
        // and started: a daemon that cannot reach its store at start exits, for its supervisor to
        // restart it), and comes back.
        while (!daemon.output().includes('"daemon started"') && daemon.child.exitCode === null) await sleep(50);
        await engine.server.restart(1_500);
        await sleep(2_000);
        expect(daemon.child.exitCode, `the daemon exited when PostgreSQL restarted:\n${daemon.output()}`).toBeNull();
      }
      if (beds.some((bed) => bed.proxy.inFlight > 0)) midTransfer += 1;
      daemon.child.kill('SIGKILL');
      await daemon.exited;
      expect(daemon.child.signalCode, `the daemon ended before it was killed:\n${daemon.output()}`).toBe('SIGKILL');
      kills += 1;
    }
    for (const bed of beds) bed.proxy.faults.clear();
    const loopSeconds = (Date.now() - loopStart) / 1000;

    // The last daemon runs until the store equals the sources, then stops cleanly.
    const last = startCli(['run', '--config', configPath]);
    const convergedAt = await convergence(engine, beds, last);
    last.child.kill('SIGTERM');
    expect(await last.exited, `the last daemon's exit code after SIGTERM (seed ${SEED}):\n${last.output()}`).toBe(0);
    const store = await engine.open();
    try {
      let lost = 0;
      let extra = 0;
      let pushedRecords = 0;
      for (const bed of beds) {
        const mirrored = await bed.mirrored(store);
        expect(mirrored, `${bed.kind} after ${kills} kills (seed ${SEED})`).toEqual(bed.expected());
        const difference = rowDifference(bed.expected(), mirrored);
        lost += difference.lost;
        extra += difference.extra;
        if (bed.pushed !== undefined) {
          // The pusher, killed with the daemon, delivered every record once: the realtime dataset equals the mirror.
          expect(bed.pushed.received(), `${bed.kind} push target after ${kills} kills (seed ${SEED})`).toEqual(bed.pushed.expected());
          const pushed = rowDifference(bed.pushed.expected(), bed.pushed.received());
          lost += pushed.lost;
          extra += pushed.extra;
          pushedRecords = (bed.pushed.received() as unknown[]).length;
        }
      }
      const states = await store.listStates();
      expect(states.filter((state) => state.status === 'running').map((state) => state.streamId)).toEqual([]);
      console.log(
        `crash loop on ${engine.name} (seed ${SEED}): ${kills} SIGKILLs survived (${midTransfer} during a transfer) in ${loopSeconds.toFixed(0)} s, ` +
          `${round} source changes, ${engine.server === undefined ? 'no server restart' : '1 PostgreSQL restart under a running daemon'}; ` +
          `converged ${(convergedAt / 1000).toFixed(1)} s after the last restart, ${pushedRecords} records pushed to ODS; rows lost ${lost}, rows extra or doubled ${extra}; ` +
          `proxy faults ${JSON.stringify(Object.fromEntries(beds.map((bed) => [bed.kind, bed.proxy.faults.counts()])))}`,
      );
      expect({ lost, extra }).toEqual({ lost: 0, extra: 0 });
    } finally {
      await store.close();
    }
  } finally {
    for (const bed of beds) await bed.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Waits until the daemon has started and every testbed's mirror equals its source; resolves with
 * the time it took. The store may already equal the sources when the daemon is spawned (the one
 * killed last had caught up): without waiting for the start, the SIGTERM that follows could reach
 * it before its signal handlers exist, and end it by the signal's default action.
 */
async function convergence(engine: CrashLoopEngine, beds: readonly Testbed[], daemon: CliProcess): Promise<number> {
  const start = Date.now();
  for (;;) {
    expect(daemon.child.exitCode, daemon.output()).toBeNull();
    if (!daemon.output().includes('"daemon started"')) {
      if (Date.now() - start > CONVERGENCE_MS) throw new Error(`the daemon had not started after ${CONVERGENCE_MS / 1000} s:\n${daemon.output().slice(-4000)}`);
      await sleep(100);
      continue;
    }
    const store = await engine.open().catch((error: unknown) => {
      // The first daemon may not have created the store yet.
      if (Date.now() - start > CONVERGENCE_MS) throw error;
      return undefined;
    });
    if (store === undefined) {
      await sleep(500);
      continue;
    }
    try {
      const pending: string[] = [];
      for (const bed of beds) {
        if (JSON.stringify(await bed.mirrored(store)) !== JSON.stringify(bed.expected())) pending.push(bed.kind);
        else if (bed.pushed !== undefined && JSON.stringify(bed.pushed.received()) !== JSON.stringify(bed.pushed.expected())) pending.push(`${bed.kind} push`);
      }
      if (pending.length === 0) return Date.now() - start;
      if (Date.now() - start > CONVERGENCE_MS) throw new Error(`not converged after ${CONVERGENCE_MS / 1000} s: ${pending.join(', ')}\n${daemon.output().slice(-4000)}`);
    } finally {
      await store.close();
    }
    await sleep(500);
  }
}

