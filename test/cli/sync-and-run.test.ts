import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNsiSimulator, type NsiSimulator } from '../../src/simulators/nsi/nsi-simulator.js';
import { runCli, startCli } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const FLOWS = ['DF_ONE', 'DF_TWO', 'DF_THREE'];

describe('the CLI against the NSI simulator', () => {
  let nsi: NsiSimulator;
  let dir: string;
  let configPath: string;

  beforeAll(async () => {
    nsi = await startNsiSimulator();
    for (const [index, id] of FLOWS.entries()) {
      const flow = nsi.dataSpace.defineDataflow({
        agency: 'TEST',
        id,
        version: '1.0',
        dimensions: ['FREQ', 'REF_AREA'],
        measures: ['OBS_VALUE'],
        attributes: [
          { id: 'UNIT_MEASURE', attachment: 'series' },
          { id: 'OBS_STATUS', attachment: 'observation' },
        ],
      });
      flow.batch((m) => {
        for (const area of ['FR', 'DE', 'NL'].slice(0, index + 1)) {
          m.setAttribute('UNIT_MEASURE', { FREQ: 'A', REF_AREA: area }, 'EUR');
          for (const year of ['2021', '2022', '2023']) {
            m.mergeObservation({ FREQ: 'A', REF_AREA: area, TIME_PERIOD: year }, { OBS_VALUE: `${index}.${year}`, OBS_STATUS: 'A' });
          }
        }
      });
    }
    dir = scratchDir('dss-e2e-');
    configPath = join(dir, 'sync.config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        store: { engine: 'sqlite', path: join(dir, 'sync.db') },
        server: { host: '127.0.0.1', port: 0 },
        defaults: { schedules: [{ every: '1h' }], jitter: '0s' },
        jobs: [{ id: 'stat', kind: 'sdmx', endpoint: nsi.url, dataflows: FLOWS.map((id) => `TEST:${id}(1.0)`) }],
      }),
    );
  });
  afterAll(async () => {
    await nsi.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('`sync` syncs a job of three dataflows and `status` shows each cursor', async () => {
    const sync = await runCli(['sync', '--config', configPath]);
    expect(sync.code).toBe(0);
    const finished = sync.stdout.split('\n').filter((line) => line.includes('"sync finished"'));
    expect(finished).toHaveLength(3);

    const status = await runCli(['status', '--json', '--config', configPath]);
    expect(status.code).toBe(0);
    const { streams } = JSON.parse(status.stdout) as { streams: { stream: string; status: string; cursor: { updatedAfter?: string }; rowsUpserted: number }[] };
    expect(streams.map((s) => s.stream).sort()).toEqual(FLOWS.map((id) => `sdmx:stat:TEST:${id}(1.0):data`).sort());
    for (const stream of streams) {
      expect(stream.status).toBe('idle');
      expect(stream.cursor.updatedAfter).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$/);
      expect(stream.rowsUpserted).toBeGreaterThan(0);
    }

    const table = await runCli(['status', '--config', configPath]);
    expect(table.stdout).toMatch(/^STREAM\s+STATUS\s+LAST SUCCESS\s+CURSOR/);
    expect(table.stdout).toContain('sdmx:stat:TEST:DF_TWO(1.0):data');
    expect(table.stdout).toMatch(/updatedAfter=\d{4}-/);
  });

  it('`sync` exits non-zero naming the stream when a sync fails, and leaves the cursor', async () => {
    const before = JSON.parse((await runCli(['status', '--json', '--config', configPath])).stdout) as { streams: { stream: string; cursor: unknown }[] };
    nsi.faults.inject({ type: 'html' });
    const sync = await runCli(['sync', 'sdmx:stat:TEST:DF_ONE(1.0):data', '--config', configPath]);
    expect(sync.code).toBe(1);
    expect(sync.stdout).toMatch(/"stream":"sdmx:stat:TEST:DF_ONE\(1\.0\):data".*"sync failed; cursor not advanced"/);
    const after = JSON.parse((await runCli(['status', '--json', '--config', configPath])).stdout) as { streams: { stream: string; cursor: unknown }[] };
    expect(after.streams.find((s) => s.stream.includes('DF_ONE'))?.cursor).toEqual(before.streams.find((s) => s.stream.includes('DF_ONE'))?.cursor);
  });

  it('`sync` applies the job\'s runTimeout: a run past it fails, is counted, and `status` names the setting', async () => {
    const slowConfig = join(dir, 'slow.config.json');
    writeFileSync(
      slowConfig,
      JSON.stringify({
        store: { engine: 'sqlite', path: join(dir, 'slow.db') },
        jobs: [{ id: 'slow', kind: 'sdmx', endpoint: nsi.url, dataflows: ['TEST:DF_THREE(1.0)'], runTimeout: '1s' }],
      }),
    );
    // Nine rows, one every 400 ms: the answer outlasts the run's second.
    nsi.faults.inject({ type: 'slowBody', delayMs: 400, rowsPerChunk: 1 });
    const sync = await runCli(['sync', '--config', slowConfig]);
    nsi.faults.clear();
    expect(sync.code, sync.stdout + sync.stderr).toBe(1);
    expect(sync.stdout).toMatch(/"sync failed; cursor not advanced"/);
    const status = JSON.parse((await runCli(['status', '--json', '--config', slowConfig])).stdout) as {
      streams: { status: string; consecutiveFailures: number; lastError: string; cursor: unknown }[];
    };
    expect(status.streams[0]).toMatchObject({ status: 'failed', consecutiveFailures: 1, cursor: null });
    expect(status.streams[0]?.lastError).toMatch(/timed out after 1s .*runTimeout/);
  });

  it('`sync` refuses an unknown stream name with a usage error', async () => {
    const sync = await runCli(['sync', 'sdmx:nope', '--config', configPath]);
    expect(sync.code).toBe(2);
    expect(sync.stderr).toMatch(/no stream or job named sdmx:nope/);
  });

  it('`reset` clears one stream\'s cursor, which `status` shows, and refuses an unknown stream', async () => {
    type Streams = { streams: { stream: string; status: string; cursor: unknown }[] };
    const target = 'sdmx:stat:TEST:DF_TWO(1.0):data';
    const before = JSON.parse((await runCli(['status', '--json', '--config', configPath])).stdout) as Streams;
    expect(before.streams.find((s) => s.stream === target)?.cursor).not.toBeNull();

    const reset = await runCli(['reset', target, '--config', configPath]);
    expect(reset.stderr).toBe('');
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain(`${target}: cursor cleared`);
    const after = JSON.parse((await runCli(['status', '--json', '--config', configPath])).stdout) as Streams;
    expect(after.streams.find((s) => s.stream === target)).toMatchObject({ cursor: null, status: 'idle' });
    for (const other of after.streams.filter((s) => s.stream !== target)) {
      expect(other.cursor).toEqual(before.streams.find((s) => s.stream === other.stream)?.cursor);
    }

    const unknown = await runCli(['reset', 'sdmx:stat:nope', '--config', configPath]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no stream sdmx:stat:nope in the store/);
  });

  it('`run` serves /status and exits 0 soon after SIGTERM', async () => {
    const daemon = startCli(['run', '--config', configPath]);
    const { child, exited } = daemon;
    const deadline = Date.now() + 30_000;
    let endpoints: string | undefined;
    while (!endpoints && Date.now() < deadline) {
      endpoints = /"endpoints":"(http:\/\/[^"]+)"/.exec(daemon.output())?.[1];
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(endpoints, daemon.output()).toBeDefined();
    const status = (await (await fetch(`${endpoints}/status`)).json()) as { streams: unknown[] };
    expect(status.streams).toHaveLength(3);
    const sent = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(10_000);
    expect(daemon.output()).toContain('daemon stopped');
  });
});
