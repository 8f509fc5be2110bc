import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRpdePublisher, type RpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { runCli, startCli } from '../helpers/cli.js';
import { startServer } from '../http/loopback-server.js';
import { scratchDir } from '../helpers/scratch-dir.js';

describe('`sync` with a job that cannot be expanded', () => {
  let publisher: RpdePublisher;
  let dir: string;
  beforeAll(async () => {
    publisher = await startRpdePublisher({ items: 30, pageSize: 10 });
    dir = scratchDir('dss-cli-expand-');
  });
  afterAll(async () => {
    await publisher.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('syncs the jobs that expanded and exits 1 naming the one that did not', async () => {
    const configPath = join(dir, 'sync.config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        store: { engine: 'sqlite', path: join(dir, 'sync.db') },
        client: { retries: 0 },
        jobs: [
          // Port 1 on loopback refuses the connection: the catalog is unreachable.
          { id: 'broken', kind: 'rpde', dataCatalog: 'http://127.0.0.1:1/catalog.jsonld' },
          { id: 'direct', kind: 'rpde', feeds: [{ url: publisher.url, prefix: 'sessions' }] },
        ],
      }),
    );
    const sync = await runCli(['sync', '--config', configPath]);
    expect(sync.code).toBe(1);
    expect(sync.stderr.trim()).toMatch(/^dataspace-sync: job broken could not be expanded into streams: feed discovery failed at http:\/\/127\.0\.0\.1:1\/catalog\.jsonld/);
    const logged = sync.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string; job?: string; stream?: string });
    expect(logged.filter((line) => line.job === 'broken' && /could not be expanded/.test(line.msg))).toHaveLength(1);
    expect(logged.some((line) => line.stream?.startsWith('rpde:direct:') && line.msg === 'sync finished')).toBe(true);

    const status = await runCli(['status', '--json', '--config', configPath]);
    const { streams } = JSON.parse(status.stdout) as { streams: { stream: string; job: string; status: string; rowsUpserted: number }[] };
    expect(streams).toHaveLength(1);
    expect(streams[0]).toMatchObject({ job: 'direct', status: 'idle', rowsUpserted: 30 });
  });

  it('`run` stops cleanly on SIGTERM while a job is still being expanded', async () => {
    // A dataset site that accepts the request and never answers: discovery is in flight.
    const site = await startServer(() => undefined);
    try {
      const configPath = join(dir, 'hanging.config.json');
      writeFileSync(
        configPath,
        JSON.stringify({
          store: { engine: 'sqlite', path: join(dir, 'hanging.db') },
          server: { host: '127.0.0.1', port: 0 },
          jobs: [{ id: 'slow', kind: 'rpde', datasetSite: `${site.origin}/dataset-site.jsonld` }],
        }),
      );
      const daemon = startCli(['run', '--config', configPath]);
      const { child, exited } = daemon;
      const deadline = Date.now() + 30_000;
      while (site.requests.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(site.requests, daemon.output()).toHaveLength(1);
      const sent = Date.now();
      child.kill('SIGTERM');
      expect(await exited, daemon.output()).toBe(0);
      expect(Date.now() - sent).toBeLessThan(10_000);
      expect(daemon.output()).toContain('"signal":"SIGTERM"');
      expect(daemon.output()).toContain('daemon stopped');
      expect(daemon.output()).not.toContain('dataspace-sync:');
    } finally {
      await site.close();
    }
  });
});
