import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRpdePublisher, type RpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { runCli } from '../helpers/cli.js';

describe('`sync` with a job that cannot be expanded', () => {
  let publisher: RpdePublisher;
  let dir: string;
  beforeAll(async () => {
    publisher = await startRpdePublisher({ items: 30, pageSize: 10 });
    dir = mkdtempSync(join(tmpdir(), 'dss-cli-expand-'));
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
});
