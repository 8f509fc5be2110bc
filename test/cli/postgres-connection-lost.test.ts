import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SyncState } from '../../src/core/sync-state.js';
import { rowToState } from '../../src/store/sql/state-row.js';
import { runCli, startCli, type CliResult } from '../helpers/cli.js';
import { PG_URL, dropSchemas, postgresRequired, postgresUnavailable, randomSchemaName, terminateTransaction, urlNamed } from '../helpers/pg.js';
import { startSlowDataflow, type SlowDataflow } from '../helpers/slow-dataflow.js';

/**
 * A PostgreSQL restart (or an administrator's pg_terminate_backend) in the middle of a sync ends
 * the connection of the open transaction. The run must fail cleanly: the process goes on, the
 * transaction is rolled back, sync_state records the failure with its cause and keeps the cursor,
 * and the next run converges on a connection the pool has replaced.
 */

const unavailable = await postgresUnavailable();

if (unavailable && postgresRequired()) {
  describe('PostgreSQL connection lost mid-sync', () => {
    it('runs in CI', () => {
      throw new Error(`${unavailable}; CI=true requires the PostgreSQL tests to run (set PGURL)`);
    });
  });
} else if (unavailable) {
  console.warn(`SKIPPED: PostgreSQL connection-loss tests (${unavailable}; set PGURL to run them)`);
  describe.skip(`PostgreSQL connection lost mid-sync (skipped: ${unavailable})`, () => {
    it('sync and run', () => undefined);
  });
} else {
  const schemas: string[] = [];
  afterAll(() => dropSchemas(schemas));

  describe('PostgreSQL connection lost mid-sync', () => {
    let flow: SlowDataflow;
    let dir: string;
    let schema: string;
    let application: string;
    let configPath: string;

    beforeEach(async () => {
      flow = await startSlowDataflow();
      dir = mkdtempSync(join(tmpdir(), 'dss-pg-lost-'));
      schema = randomSchemaName();
      schemas.push(schema);
      // Names the daemon's connections, so the test ends the transaction of this daemon and of no other test run.
      application = `${schema}_app`;
      configPath = join(dir, 'sync.config.json');
      writeFileSync(
        configPath,
        JSON.stringify({
          store: { engine: 'postgres', url: urlNamed(application), schema },
          server: { host: '127.0.0.1', port: 0 },
          // Polls every second; after a failure it waits exactly 1 s: a tenth of the initial backoff is the
          // floor, and a max of 1 s keeps the jitter from adding up to 9 s more while the test waits.
          defaults: { schedules: [{ every: '1s' }], jitter: '0s', backoff: { initial: '10s', max: '1s' } },
          jobs: [flow.job],
        }),
      );
    });
    afterEach(async () => {
      await flow.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const stored = () => flow.stored(PG_URL, schema);
    const source = () => flow.source();

    it('`sync`: the run fails cleanly, keeps the cursor, and the next sync converges', async () => {
      expect((await runCli(['sync', '--config', configPath])).code).toBe(0);
      const before = await stored();
      expect(before.rows).toEqual(source());

      flow.changeSlowly();
      let result: CliResult | undefined;
      const sync = runCli(['sync', '--config', configPath]).then((done) => (result = done));
      await terminateTransaction(application, flow.table, () => (result ? `sync exited with ${result.code}:\n${result.stdout}${result.stderr}` : undefined));
      const failed = await sync;

      const output = `${failed.stdout}${failed.stderr}`;
      expect(output).not.toMatch(/Unhandled 'error' event|uncaught/i);
      expect(failed.code, output).toBe(1);
      expect(failed.stdout).toMatch(/"sync failed; cursor not advanced"/);
      const after = await stored();
      expect(after.state).toMatchObject({ status: 'backoff', consecutiveFailures: 1, cursor: before.state?.cursor });
      expect(after.state?.lastError).toMatch(/connection to PostgreSQL was lost in the middle of the transaction/);
      expect(after.rows).toEqual(before.rows);

      const again = await runCli(['sync', '--config', configPath]);
      expect(again.code, `${again.stdout}${again.stderr}`).toBe(0);
      const converged = await stored();
      expect(converged.rows).toEqual(source());
      expect(converged.state).toMatchObject({ status: 'idle', consecutiveFailures: 0, lastError: null });
      expect(converged.state?.cursor).not.toEqual(before.state?.cursor);
    }, 120_000);

    it('`run`: the daemon survives, records the failure, backs off, and its next run converges', async () => {
      const daemon = startCli(['run', '--config', configPath]);
      let exitCode: number | null | undefined;
      void daemon.exited.then((code) => (exitCode = code));
      const exitedReason = (): string | undefined => (exitCode === undefined ? undefined : `the daemon exited with ${exitCode}:\n${daemon.output()}`);
      const waitFor = async (what: string, check: () => Promise<boolean> | boolean): Promise<void> => {
        while (!(await check())) {
          const reason = exitedReason();
          if (reason !== undefined) throw new Error(`waiting for ${what}: ${reason}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      try {
        await waitFor('the first sync', () => daemon.output().includes('"sync finished"'));
        const before = await stored();
        expect(before.rows).toEqual(source());

        flow.changeSlowly();
        await terminateTransaction(application, flow.table, exitedReason);
        // The retry comes a second or more later (a tenth of the initial backoff at least):
        // sync_state is watched closely enough to see the failure before the retry replaces it.
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        let failed: { state: SyncState; rows: number } | undefined;
        try {
          await waitFor('the failure to be recorded', async () => {
            const result = await admin.query<Record<string, unknown>>(
              `SELECT s.*, (SELECT count(*) FROM "${schema}"."${flow.table}") AS obs_rows FROM "${schema}".sync_state s WHERE s.stream_id = $1`,
              [flow.stream],
            );
            const row = result.rows[0];
            if (row?.status !== 'backoff') return false;
            failed = { state: rowToState(row), rows: Number(row.obs_rows) };
            return true;
          });
        } finally {
          await admin.end();
        }
        expect(failed?.state).toMatchObject({ consecutiveFailures: 1, cursor: before.state?.cursor });
        expect(failed?.state.lastError).toMatch(/connection to PostgreSQL was lost in the middle of the transaction/);
        expect(failed?.rows).toBe(before.rows.length);
        await waitFor('the failure to be logged', () => daemon.output().includes('"sync failed; cursor not advanced"'));

        await waitFor('the next run to converge', async () => {
          const now = await stored();
          return now.state?.status === 'idle' && now.state.lastError === null && now.rows.length === source().length;
        });
        const converged = await stored();
        expect(converged.rows).toEqual(source());
        expect(converged.state?.cursor).not.toEqual(before.state?.cursor);
        expect(daemon.output()).not.toMatch(/Unhandled 'error' event|uncaught/i);
      } finally {
        daemon.child.kill('SIGTERM');
        expect(await daemon.exited).toBe(exitCode ?? 0);
      }
    }, 120_000);
  });
}
