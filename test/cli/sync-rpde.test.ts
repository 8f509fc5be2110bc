import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRpdePublisher, type RpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { runCli } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch-dir.js';

describe('`sync` of an RPDE feed', () => {
  let rpde: RpdePublisher;
  let dir: string;
  let config: string;

  beforeAll(async () => {
    rpde = await startRpdePublisher({ items: 150, pageSize: 100 });
    dir = scratchDir('dss-sync-rpde-');
    config = join(dir, 'sync.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        store: { engine: 'sqlite', path: join(dir, 'sync.db') },
        jobs: [{ id: 'feed', kind: 'rpde', feeds: [{ url: rpde.url, prefix: 'sessions' }], pollInterval: '1h' }],
      }),
    );
  });
  afterAll(async () => {
    await rpde.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('always asks the feed, even right after the last page was read (the poll interval paces only the daemon)', async () => {
    const first = await runCli(['sync', '--config', config]);
    expect(first.code).toBe(0);
    const ids = [...rpde.feed.liveItems().keys()];
    rpde.feed.upsert(ids[0] as string);
    rpde.feed.delete(ids[1] as string);
    const requests = rpde.requests.length;

    const second = await runCli(['sync', '--config', config]);
    expect(second.code).toBe(0);
    expect(rpde.requests.length).toBeGreaterThan(requests);
    const finished = second.stdout.split('\n').find((line) => line.includes('"sync finished"'));
    expect(JSON.parse(finished ?? '{}')).toMatchObject({ upserted: 1, deleted: 1 });
    expect(second.stdout).not.toContain('run skipped');

    const status = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as { streams: { rowsUpserted: number; rowsDeleted: number }[] };
    expect(status.streams[0]).toMatchObject({ rowsUpserted: 151, rowsDeleted: 1 });
  });
});
