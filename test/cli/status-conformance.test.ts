import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRpdePublisher, type RpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { runCli } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const STREAM = 'rpde:hostile:session-series';

interface StatusJson {
  streams: { stream: string; details: { conformance: Record<string, { severity: string; count: number; samples: string[] }> } }[];
}

describe('`status` after a harvest of a hostile RPDE feed', () => {
  let publisher: RpdePublisher;
  let dir: string;
  let configPath: string;

  beforeAll(async () => {
    publisher = await startRpdePublisher({ items: 300, pageSize: 100 });
    const laterPages = { match: (url: URL) => url.search !== '' };
    publisher.injectFault({ type: 'duplicateId' }, laterPages);
    publisher.injectFault({ type: 'regressingModified' }, laterPages);
    dir = scratchDir('dss-status-conformance-');
    configPath = join(dir, 'sync.config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        store: { engine: 'sqlite', path: join(dir, 'sync.db') },
        jobs: [{ id: 'hostile', kind: 'rpde', feeds: [publisher.url] }],
      }),
    );
    const sync = await runCli(['sync', '--config', configPath]);
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
  });

  afterAll(async () => {
    await publisher.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('`status --json` gives each check id with its severity, count and samples', async () => {
    const status = await runCli(['status', '--json', '--config', configPath]);
    expect(status.code).toBe(0);
    const { streams } = JSON.parse(status.stdout) as StatusJson;
    const conformance = streams.find((stream) => stream.stream === STREAM)?.details.conformance;
    expect(conformance?.['C24']).toMatchObject({ severity: 'error', count: 1 });
    expect(conformance?.['C26']).toMatchObject({ severity: 'error', count: 1 });
    expect(conformance?.['C22']).toMatchObject({ severity: 'error', count: 1 });
    expect(conformance?.['C28']).toMatchObject({ severity: 'warning', count: 2 });
    expect(conformance?.['C26']?.samples[0]).toMatch(/older than one seen earlier in this run/);
  });

  it('`status` shows the same findings in one CONFORMANCE cell: error and warning ids with their counts', async () => {
    const table = await runCli(['status', '--config', configPath]);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.split('\n');
    expect(header).toMatch(/\bDELETED\s+CONFORMANCE\s+LAST ERROR$/);
    expect(row).toContain(STREAM);
    expect(row).toContain('err C22(1) C24(1) C26(1); warn C27(1) C28(2)');
  });
});
