import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/daemon/logger.js';
import { createScrubber } from '../../src/daemon/secret-scrubber.js';
import type { HttpClient } from '../../src/http/client.js';
import { tempSqliteStore } from './stores.js';
import { testKind, type TestSource, type TestSourceScript } from './test-source.js';

const http: HttpClient = { request: () => Promise.reject(new Error('no HTTP in this test')) };

/** The value of `${TEST_TOKEN}` in the job of `startTestDaemon`: a secret that must never be shown. */
export const TEST_SECRET = 'tok-9f8e7d6c5b4a';

export interface RunningDaemon {
  readonly daemon: Daemon;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  readonly sources: TestSource[];
  readonly logLines: string[];
  cleanup(): Promise<void>;
}

/**
 * A daemon in this process over a fresh SQLite store, with one job `demo` of scripted test
 * sources (two streams unless `job.streams` says otherwise), on a free loopback port.
 * `job` adds to or overrides the job's fields, `config` the config's top-level sections.
 */
export async function startTestDaemon(
  script: TestSourceScript,
  job: Record<string, unknown> = {},
  config: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
): Promise<RunningDaemon> {
  const sources: TestSource[] = [];
  const kinds = [testKind(script, sources)];
  const loaded = parseConfig(
    JSON.stringify({
      server: { host: '127.0.0.1', port: 0 },
      defaults: { jitter: '0s', backoff: { initial: '1h' } },
      jobs: [{ id: 'demo', kind: 'test', streams: 2, token: '${TEST_TOKEN}', schedules: [{ every: '1h' }], ...job }],
      ...config,
    }),
    'test.json',
    kinds,
    { TEST_TOKEN: TEST_SECRET, ...env },
  );
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger({ level: 'debug', secrets: loaded.secrets, destination });
  const { store, cleanup } = await tempSqliteStore();
  const daemon = new Daemon({ config: loaded.config, kinds, store, http, log, scrub: createScrubber(loaded.secrets) });
  const { port } = await daemon.start();
  return {
    daemon,
    base: `http://127.0.0.1:${port}`,
    sources,
    logLines,
    cleanup: async () => {
      await daemon.stop();
      await cleanup();
    },
  };
}

/** Polls `check` until it holds; fails after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
