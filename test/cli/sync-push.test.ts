import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOdsSimulator, type OdsSimulator } from '../../src/simulators/ods/ods-simulator.js';
import { startRpdePublisher, type RpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { runCli } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const PUSH_KEY = 'sync-push-key-81c5e0d2a7';
const TARGET = 'rpde:feed:session-series>sessions';
const PAUSED = 'rpde:feed:session-series>paused';

describe('`sync` of a pushed job', () => {
  let rpde: RpdePublisher;
  let ods: OdsSimulator;
  let dir: string;
  let config: string;

  beforeAll(async () => {
    rpde = await startRpdePublisher({ items: 30, pageSize: 10 });
    ods = await startOdsSimulator({
      realtime: [
        { dataset: 'sessions', resource: 'realtime', pushKey: PUSH_KEY, uniqueIds: ['id'] },
        { dataset: 'paused', resource: 'realtime', pushKey: PUSH_KEY, enabled: false },
      ],
    });
    dir = scratchDir('dss-sync-push-');
    config = join(dir, 'sync.config.json');
    const pushTo = (dataset: string) => `${ods.url}/api/push/1.0/${dataset}/realtime/push/?pushkey=\${DSS_TEST_PUSHKEY}`;
    writeFileSync(
      config,
      JSON.stringify({
        store: { engine: 'sqlite', path: join(dir, 'sync.db') },
        client: { retries: 0 },
        jobs: [{ id: 'feed', kind: 'rpde', feeds: [{ url: rpde.url, prefix: 'sessions' }], push: [{ url: pushTo('sessions'), uniqueId: ['id'] }, { url: pushTo('paused') }] }],
      }),
    );
  });
  afterAll(async () => {
    await rpde.close();
    await ods.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers before it exits and says per target what went out and what remains; a disabled endpoint keeps its changes (exit 1) until a later sync delivers them', async () => {
    const env = { DSS_TEST_PUSHKEY: PUSH_KEY };
    const first = await runCli(['sync', '--config', config], { env });
    expect(first.stdout).toContain(`push ${TARGET}: 30 records delivered; nothing left undelivered`);
    expect(first.stdout).toMatch(new RegExp(`push ${PAUSED}: 0 records delivered; \\d+ changes? remain undelivered \\(oldest \\d+ s\\); last error: .*Push is disabled`));
    expect(first.code).toBe(1);
    expect(ods.push.count('sessions')).toBe(30);
    expect(ods.push.count('paused')).toBe(0);

    const status = await runCli(['status', '--config', config], { env });
    expect(status.stdout).toMatch(new RegExp(`${PAUSED}: \\d+ undelivered, oldest \\d+ s; 0 records delivered; failing \\(\\d+\\): .*Push is disabled`));
    expect(status.stdout).toContain(`${TARGET}: all delivered; 30 records delivered`);

    ods.push.setEnabled('paused', true);
    rpde.feed.delete([...rpde.feed.liveItems().keys()][0] as string);
    const second = await runCli(['sync', '--config', config], { env });
    expect(second.stdout).toContain(`push ${TARGET}: 1 record delivered; nothing left undelivered`);
    // 29 records pushed, and the deleted item deleted by the values the refused push sent: a refusal is
    // not taken as proof that nothing of the request was applied, so those values stay unconfirmed.
    expect(second.stdout).toContain(`push ${PAUSED}: 30 records delivered; nothing left undelivered`);
    expect(second.code).toBe(0);
    expect(ods.push.count('sessions')).toBe(29);
    expect(ods.push.count('paused')).toBe(29);

    for (const output of [first, status, second]) expect(output.stdout + output.stderr).not.toContain(PUSH_KEY);
  });
});
