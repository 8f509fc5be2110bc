import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/daemon/logger.js';
import type { JobReport } from '../../src/daemon/pending-jobs.js';
import { createScrubber } from '../../src/daemon/secret-scrubber.js';
import type { StreamReport } from '../../src/daemon/stream-status.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { startRpdePublisher, type RpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { builtInKinds } from '../../src/sources/registry.js';
import { startServer, type LoopbackServer } from '../http/loopback-server.js';
import { tempSqliteStore } from '../helpers/stores.js';

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A dataset site that answers 503 while `siteDown` is set, next to a job whose feed is listed in
 * the config: the daemon must run the second while it keeps retrying the first.
 */
describe('a job that cannot be expanded at start', () => {
  let publisher: RpdePublisher;
  let site: LoopbackServer;
  let siteDown = true;
  let http: UndiciHttpClient;
  let daemon: Daemon;
  let base: string;
  let cleanupStore: () => Promise<void>;
  const logLines: string[] = [];

  const status = async () =>
    (await (await fetch(`${base}/status`)).json()) as { streams: StreamReport[]; jobs: JobReport[] };

  beforeAll(async () => {
    publisher = await startRpdePublisher({ items: 20, pageSize: 10 });
    site = await startServer((_request, response) => {
      if (siteDown) {
        response.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/ld+json' }).end(
        JSON.stringify({
          '@context': 'https://openactive.io/',
          '@type': 'Dataset',
          distribution: [
            { '@type': 'DataDownload', identifier: 'sessions', encodingFormat: 'application/vnd.openactive.rpde+json', contentUrl: publisher.url },
          ],
        }),
      );
    });
    const { config, secrets } = parseConfig(
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        defaults: { jitter: '0s', backoff: { initial: '200ms', max: '400ms' } },
        jobs: [
          { id: 'site', kind: 'rpde', datasetSite: `${site.origin}/dataset-site.jsonld` },
          { id: 'direct', kind: 'rpde', feeds: [publisher.url] },
        ],
      }),
      'test.json',
      builtInKinds,
      {},
    );
    const log = createLogger({
      level: 'info',
      secrets,
      destination: new Writable({
        write(chunk, _encoding, done) {
          logLines.push(...String(chunk).split('\n').filter(Boolean));
          done();
        },
      }),
    });
    http = createHttpClient({ maxRetries: 0, log });
    const { store, cleanup } = await tempSqliteStore();
    cleanupStore = cleanup;
    daemon = new Daemon({ config, kinds: builtInKinds, store, http, log, scrub: createScrubber(secrets) });
    const { port } = await daemon.start();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await daemon.stop();
    await cleanupStore();
    await http.close();
    await site.close();
    await publisher.close();
  });

  it('runs the other jobs, says which job is missing in /readyz, /status and the log, and retries it', async () => {
    await until(async () => (await status()).streams.some((s) => s.job === 'direct' && s.lastSuccessAt !== null));

    const readyz = await fetch(`${base}/readyz`);
    expect(readyz.status).toBe(503);
    const { problems } = (await readyz.json()) as { problems: string[] };
    expect(problems).toEqual([expect.stringMatching(/^job site: could not be expanded into streams \(\d+ attempts\): feed discovery failed at .*503/)]);

    const { streams, jobs } = await status();
    expect(streams.map((s) => s.job)).toEqual(['direct']);
    expect(jobs).toEqual([
      expect.objectContaining({ job: 'site', kind: 'rpde', expanded: false, streams: 0, lastError: expect.stringMatching(/503/) as unknown }),
      { job: 'direct', kind: 'rpde', expanded: true, streams: 1, failures: 0, lastError: null, nextAttemptAt: null },
    ]);
    // Retried with the configured backoff (200-400 ms), not given up on.
    await until(async () => ((await status()).jobs[0]?.failures ?? 0) >= 3);
    expect(logLines.some((line) => line.includes('"job":"site"') && line.includes('job site could not be expanded into streams'))).toBe(true);

    siteDown = false;
    await until(async () => (await status()).streams.some((s) => s.job === 'site' && s.lastSuccessAt !== null));
    const after = await status();
    expect(after.jobs.find((job) => job.job === 'site')).toMatchObject({ expanded: true, streams: 1, lastError: null });
    expect(after.streams.find((s) => s.job === 'site')).toMatchObject({ status: 'idle', rowsUpserted: 20 });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(logLines.some((line) => line.includes('job site expanded after all'))).toBe(true);
  });
});
