import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { openTransaction, postgresRequired, urlNamed } from '../helpers/pg.js';
import { privateClusterUnavailable, startPrivateCluster, type PrivateCluster } from '../helpers/pg-cluster.js';
import { startSlowDataflow, type SlowDataflow } from '../helpers/slow-dataflow.js';

/**
 * The PostgreSQL server restarts (`pg_ctl restart -m fast`: an upgrade, a failover) while the
 * daemon is in the middle of a sync. The run must fail cleanly: the daemon goes on, the
 * transaction is rolled back, the failure is recorded with its cause once the server is back,
 * the stream backs off, and its next run converges. The restart is of a private throwaway
 * cluster, never of the server the other tests share.
 */

const unavailable = privateClusterUnavailable();
/** What the daemon must never print: a crash, or pg's warning of queries sent to a busy client. */
const NEVER_PRINTED = /DeprecationWarning|Unhandled 'error' event|uncaught/i;

if (unavailable && postgresRequired()) {
  describe('PostgreSQL restart mid-sync', () => {
    it('runs in CI', () => {
      throw new Error(`${unavailable}; CI=true requires the PostgreSQL tests to run (install the PostgreSQL server package)`);
    });
  });
} else if (unavailable) {
  console.warn(`SKIPPED: PostgreSQL restart test (${unavailable})`);
  describe.skip(`PostgreSQL restart mid-sync (skipped: ${unavailable})`, () => {
    it('restart', () => undefined);
  });
} else {
  describe('PostgreSQL restart mid-sync', () => {
    let cluster: PrivateCluster;
    let flow: SlowDataflow;
    let dir: string;
    beforeAll(async () => {
      [cluster, flow] = await Promise.all([startPrivateCluster(), startSlowDataflow()]);
      dir = mkdtempSync(join(tmpdir(), 'dss-pg-restart-'));
    });
    afterAll(async () => {
      await flow.close();
      await cluster.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it('`run`: the run fails with the cause, the daemon lives on, backs off, and its next run converges', async () => {
      const schema = 'mirror';
      const application = 'dss_restart_test';
      const configPath = join(dir, 'sync.config.json');
      writeFileSync(
        configPath,
        JSON.stringify({
          store: { engine: 'postgres', url: urlNamed(application, cluster.url), schema },
          server: { host: '127.0.0.1', port: 0 },
          // Polls every second; after a failure it waits 1 to 10 s (a tenth of the initial backoff at least).
          defaults: { schedules: [{ every: '1s' }], jitter: '0s', backoff: { initial: '10s', max: '10s' } },
          jobs: [flow.job],
        }),
      );
      const daemon = startCli(['run', '--config', configPath]);
      let exitCode: number | null | undefined;
      void daemon.exited.then((code) => (exitCode = code));
      const exitedReason = (): string | undefined => (exitCode === undefined ? undefined : `the daemon exited with ${exitCode}:\n${daemon.output()}`);
      const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 45_000): Promise<void> => {
        const end = Date.now() + timeoutMs;
        while (!(await check())) {
          const reason = exitedReason() ?? (Date.now() > end ? `timed out:\n${daemon.output().slice(-4000)}` : undefined);
          if (reason !== undefined) throw new Error(`waiting for ${what}: ${reason}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const stored = () => flow.stored(cluster.url, schema);
      try {
        await waitFor('the first sync', () => daemon.output().includes('"sync finished"'));
        const before = await stored();
        expect(before.rows).toEqual(flow.source());

        flow.changeSlowly();
        await openTransaction(application, flow.table, exitedReason, cluster.url);
        const logged = daemon.output().length;
        await cluster.restart();

        await waitFor('the failure to be logged', () => daemon.output().slice(logged).includes('"sync failed; cursor not advanced"'));
        const failure = daemon
          .output()
          .slice(logged)
          .split('\n')
          .map((line) => (line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : {}))
          .find((line) => line['msg'] === 'sync failed; cursor not advanced');
        expect(failure?.['err']).toMatch(/connection to PostgreSQL was lost in the middle of the transaction|terminating connection|shutting down|ECONNREFUSED/);
        // It backs off rather than retrying at once.
        expect(failure?.['retryInMs']).toBeGreaterThanOrEqual(1_000);

        // Recorded in sync_state once the server answers again, before the retry: rolled back, cursor kept.
        const failed = await stored();
        expect(failed.state).toMatchObject({ status: 'backoff', consecutiveFailures: 1, cursor: before.state?.cursor });
        expect(failed.state?.lastError).toMatch(/connection to PostgreSQL was lost|terminating connection|shutting down|ECONNREFUSED/);
        expect(failed.rows).toEqual(before.rows);

        await waitFor('the next run to converge', async () => {
          const now = await stored();
          return now.state?.status === 'idle' && now.state.lastError === null && now.rows.length === flow.source().length;
        });
        const converged = await stored();
        expect(converged.rows).toEqual(flow.source());
        expect(converged.state?.cursor).not.toEqual(before.state?.cursor);
        expect(daemon.stderr()).not.toMatch(NEVER_PRINTED);
        expect(daemon.output()).not.toMatch(NEVER_PRINTED);
      } finally {
        daemon.child.kill('SIGTERM');
        expect(await daemon.exited).toBe(exitCode ?? 0);
      }
    }, 120_000);
  });
}
