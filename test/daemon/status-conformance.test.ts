import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { createScrubber } from '../../src/daemon/secret-scrubber.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { startRpdePublisher, type RpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { builtInKinds } from '../../src/sources/registry.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from '../helpers/silent-log.js';
import { tempSqliteStore } from '../helpers/stores.js';

const STREAM = 'rpde:hostile:session-series';

interface StatusBody {
  streams: {
    stream: string;
    status: string;
    lastError: string | null;
    details: { conformance?: Record<string, { severity: string; title: string; count: number; samples: string[] }> } | null;
  }[];
}

describe('/status of a daemon mirroring a hostile RPDE feed', () => {
  let publisher: RpdePublisher;
  let http: UndiciHttpClient;
  let daemon: Daemon | undefined;
  let store: SqliteStore;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    publisher = await startRpdePublisher({ items: 300, pageSize: 100 });
    http = createHttpClient({ maxRetries: 0 });
    ({ store, cleanup } = await tempSqliteStore());
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    await cleanup();
    await http.close();
    await publisher.close();
  });

  it('shows the feed conformance report: each check with its severity, title, count and samples', async () => {
    publisher.injectFault({ type: 'selfLoop' }, { match: (url) => url.search !== '' });
    const { config, secrets } = parseConfig(
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        defaults: { jitter: '0s', backoff: { initial: '1h' } },
        jobs: [{ id: 'hostile', kind: 'rpde', feeds: [publisher.url] }],
      }),
      'test.json',
      builtInKinds,
      {},
    );
    daemon = new Daemon({ config, kinds: builtInKinds, store, http, log: memoryLogger('warn').log, scrub: createScrubber(secrets) });
    const { port } = await daemon.start();

    let report: StatusBody['streams'][number] | undefined;
    const deadline = Date.now() + 10_000;
    while (report?.status !== 'backoff' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const body = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as StatusBody;
      report = body.streams.find((stream) => stream.stream === STREAM);
    }
    expect(report?.status).toBe('backoff');
    expect(report?.lastError).toMatch(/self-loop/);
    expect(report?.details?.conformance?.['C8']).toMatchObject({
      severity: 'error',
      title: 'self-loop: next equals the page URL while items is not empty',
      count: 1,
      samples: [expect.stringMatching(/has 100 items and itself as next/)],
    });
  });
});
