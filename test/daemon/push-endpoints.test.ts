import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { createScrubber } from '../../src/daemon/secret-scrubber.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { startOdsSimulator, type OdsSimulator } from '../../src/simulators/ods/ods-simulator.js';
import { startRpdePublisher, type RpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { builtInKinds } from '../../src/sources/registry.js';
import { until } from '../helpers/daemon.js';
import { memoryLogger } from '../helpers/silent-log.js';
import { tempSqliteStore } from '../helpers/stores.js';

const PUSH_KEY = 'endpoints-push-key-4e9a1c07';
const STREAM = 'rpde:feed:session-series';
const TARGET = `${STREAM}>paused`;

/**
 * A real RPDE feed mirrored by the daemon and pushed to an ODS dataset whose push is disabled:
 * what /metrics and /readyz say of the stream's deletions and of the target that cannot deliver.
 */
describe('the daemon\'s endpoints for an RPDE feed pushed to a disabled ODS dataset', () => {
  let rpde: RpdePublisher;
  let ods: OdsSimulator;
  let http: UndiciHttpClient;
  let daemon: Daemon;
  let base: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    rpde = await startRpdePublisher({ items: 20, pageSize: 10 });
    rpde.feed.deleteMany([...rpde.feed.liveItems().keys()].slice(0, 5));
    ods = await startOdsSimulator({ realtime: [{ dataset: 'paused', resource: 'realtime', pushKey: PUSH_KEY, enabled: false }] });
    const loaded = parseConfig(
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        defaults: { jitter: '0s', backoff: { initial: '1h' } },
        jobs: [
          {
            id: 'feed',
            kind: 'rpde',
            feeds: [{ url: rpde.url, prefix: 'sessions' }],
            schedules: [{ every: '1h' }],
            push: [{ url: `${ods.url}/api/push/1.0/paused/realtime/push/?pushkey=\${DSS_TEST_PUSHKEY}`, alertAfter: '1s' }],
          },
        ],
      }),
      'test.json',
      builtInKinds,
      { DSS_TEST_PUSHKEY: PUSH_KEY },
    );
    const temp = await tempSqliteStore();
    http = createHttpClient({ maxRetries: 0 });
    daemon = new Daemon({ config: loaded.config, kinds: builtInKinds, store: temp.store, http, log: memoryLogger('warn').log, scrub: createScrubber(loaded.secrets) });
    const { port } = await daemon.start();
    base = `http://127.0.0.1:${port}`;
    cleanup = temp.cleanup;
  });
  afterAll(async () => {
    await daemon.stop();
    await cleanup();
    await http.close();
    await rpde.close();
    await ods.close();
  });

  const metrics = async () => (await fetch(`${base}/metrics`)).text();

  it('/metrics counts the feed\'s deleted items as deletions, and shows the target\'s outbox, failures, last error and alert', async () => {
    await until(async () => /dss_push_consecutive_failures\{[^}]*\} [1-9]/.test(await metrics()), 15_000);
    const text = await metrics();
    expect(text).toContain(`dss_rows_applied_total{stream="${STREAM}",change="upserted"} 15`);
    expect(text).toContain(`dss_rows_applied_total{stream="${STREAM}",change="deleted"} 5`);
    expect(text).toMatch(new RegExp(`^dss_push_outbox_depth\\{target="${TARGET}",stream="${STREAM}"\\} [1-9]\\d*$`, 'm'));
    expect(text).toMatch(new RegExp(`^dss_push_last_error\\{target="${TARGET}",error="[^"]*Push is disabled[^"]*"\\} 1$`, 'm'));
    expect(text).toContain(`dss_push_records_delivered{target="${TARGET}",stream="${STREAM}"} 0`);
    await until(async () => (await metrics()).includes(`dss_push_alerting{target="${TARGET}",stream="${STREAM}"} 1`), 10_000);
    expect(await metrics()).not.toContain(PUSH_KEY);
  });

  it('/readyz turns 503 once the push lag passes the target\'s alertAfter, naming the target and ODS\'s message', async () => {
    await until(async () => (await fetch(`${base}/readyz`)).status === 503, 10_000);
    const body = await (await fetch(`${base}/readyz`)).text();
    const { problems } = JSON.parse(body) as { problems: string[] };
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^push ${TARGET}: changes undelivered for \\d+ s \\(alertAfter 1 s\\); last error: .*Push is disabled`))]);
    expect(body).not.toContain(PUSH_KEY);
  });
});
