import { afterEach, beforeEach, expect } from 'vitest';
import type { StreamSource } from '../../../src/core/source.js';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { runStream, StreamRunError, type RunResult } from '../../../src/runner/run-stream.js';
import { startOdsSimulator, type OdsSimulator } from '../../../src/simulators/ods/ods-simulator.js';
import type { DatasetDefinition } from '../../../src/simulators/ods/portal-data.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from '../../helpers/silent-log.js';
import { startServer, type LoopbackServer } from '../../http/loopback-server.js';
import { tempSqliteStore } from '../../helpers/stores.js';

/** When every test's portal clock starts: the day the real captures were recorded. */
const START = Date.parse('2026-08-17T02:40:33Z');

/**
 * A simulated portal on a clock the test moves, a fresh SQLite store and an HTTP client that does
 * not retry, set up before each test of the describe that calls portalTestbed and torn down after.
 */
export class PortalTestbed {
  sim!: OdsSimulator;
  store!: SqliteStore;
  http!: UndiciHttpClient;
  /** The portal's and the sources' clock, in ms. */
  time = START;
  readonly log = memoryLogger('warn').log;
  readonly now = (): Date => new Date(this.time);

  sync(source: StreamSource, http: UndiciHttpClient = this.http): Promise<RunResult> {
    return runStream({ store: this.store, source, http, log: this.log, signal: new AbortController().signal });
  }

  async syncFails(source: StreamSource, http: UndiciHttpClient = this.http): Promise<StreamRunError> {
    const failure = await this.sync(source, http).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StreamRunError);
    return failure as StreamRunError;
  }
}

export function portalTestbed(datasets: () => readonly DatasetDefinition[]): PortalTestbed {
  const bed = new PortalTestbed();
  let cleanup: () => Promise<void> = () => Promise.resolve();
  beforeEach(async () => {
    bed.time = START;
    bed.sim = await startOdsSimulator({ now: bed.now, datasets: datasets() });
    ({ store: bed.store, cleanup } = await tempSqliteStore());
    bed.http = createHttpClient({ maxRetries: 0 });
  });
  afterEach(async () => {
    await bed.http.close();
    await cleanup();
    await bed.sim.close();
  });
  return bed;
}

/**
 * A proxy in front of a portal: each answer's body passes through `edit` (given the request's path
 * and query) before it is sent on, with the portal's status and content type. For answers a
 * simulator fault cannot give: a well-formed export that ends early, a change between two pages.
 */
export function portalProxy(portal: string, edit: (url: string, body: string) => string): Promise<LoopbackServer> {
  return startServer((req, res) => {
    void (async () => {
      const answer = await fetch(`${portal}${req.url ?? '/'}`);
      const body = edit(req.url ?? '/', await answer.text());
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      res.end(body);
    })();
  });
}
