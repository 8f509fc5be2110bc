import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../config/load.js';
import { httpClientFor } from '../http-client-for.js';
import { Daemon } from '../../daemon/daemon.js';
import { createLogger } from '../../daemon/logger.js';
import { createScrubber } from '../../daemon/secret-scrubber.js';
import type { StreamReport } from '../../daemon/stream-status.js';
import type { PushReport } from '../../push/push-report.js';
import { builtInKinds } from '../../sources/registry.js';
import { openStore } from '../../store/open-store.js';
import type { Store } from '../../store/store.js';
import { PUSH_KEY_VARIABLE, type DemoPart, type DemoPartFactory } from './demo-part.js';
import { DEMO_PARTS } from './demo-parts.js';

export interface DemoOptions {
  /** The mirror's SQLite file; default: demo.db in a new temporary folder. */
  readonly db?: string;
  /** The status page's port on 127.0.0.1; 0 picks a free one. Default 8080, or a free one when it is taken. */
  readonly port?: number;
  /** How often the SDMX streams are synced (the RPDE feed polls every 8 s, the least RPDE allows). */
  readonly every?: string;
  readonly parts?: readonly DemoPartFactory[];
  /** The key the demo's push targets accept; default: a new random one. */
  readonly pushKey?: string;
}

/** The simulators, a daemon mirroring them into SQLite, and the means to change the sources and compare. */
export interface DemoSession {
  readonly statusUrl: string;
  readonly dbPath: string;
  readonly logPath: string;
  readonly parts: readonly DemoPart[];
  readonly store: Store;
  reports(): Promise<StreamReport[]>;
  pushReports(): Promise<PushReport[]>;
  /** Changes every source once; says what changed, one line each. */
  changeSources(): string[];
  /**
   * Waits until every stream is idle with a cursor, has run since the last change to the sources,
   * the mirror equals the sources, and every push target has been sent everything; resolves with what still differs after `timeoutMs` (one
   * line each), or [] once in step.
   */
  converge(timeoutMs: number): Promise<string[]>;
  summary(): Promise<string[]>;
  /** Stops the daemon (rolling back what runs), then the simulators. */
  close(): Promise<void>;
}

/**
 * Starts every demo part's simulator and a daemon (the same `Daemon` as `run`, configured by the
 * same config parser) mirroring them into a SQLite file, with its status page on loopback.
 */
export async function startDemo(options: DemoOptions = {}): Promise<DemoSession> {
  const parts: DemoPart[] = [];
  let store: Store | undefined;
  // Generated, so no key is written anywhere; the config names it by a placeholder, which makes it a secret.
  const pushKey = options.pushKey ?? randomBytes(24).toString('base64url');
  try {
    for (const start of options.parts ?? DEMO_PARTS) parts.push(await start({ pushKey }));
    // SDMX watermarks come from the server's Date header, in whole seconds: a first sync in the
    // second the data was made would read it all again next time (harmless, but noise in a demo).
    await new Promise((resolve) => setTimeout(resolve, 1_050 - (Date.now() % 1_000)));
    const dir = mkdtempSync(join(tmpdir(), 'dss-demo-'));
    const dbPath = options.db ?? join(dir, 'demo.db');
    const logPath = join(dir, 'demo.log');
    const load = (port: number) =>
      parseConfig(
        JSON.stringify({
          store: { engine: 'sqlite', path: dbPath },
          server: { host: '127.0.0.1', port },
          defaults: { schedules: [{ every: options.every ?? '3s' }], jitter: '0s', backoff: { initial: '5s', max: '1m' } },
          jobs: parts.flatMap((part) => part.jobs),
        }),
        'demo',
        builtInKinds,
        { [PUSH_KEY_VARIABLE]: pushKey },
      );
    const config = (port: number) => load(port).config;
    const { secrets } = load(0);
    const log = createLogger({ level: 'info', secrets, destination: pino.destination({ dest: logPath, sync: false }) });
    const http = httpClientFor(config(0), log);
    store = await openStore({ engine: 'sqlite', path: dbPath }, { log });
    const opened = store;
    const daemonOn = (port: number) =>
      new Daemon({ config: config(port), kinds: builtInKinds, store: opened, http, log, scrub: createScrubber(secrets) });
    let daemon = daemonOn(options.port ?? 8080);
    let address: { port: number; host: string };
    try {
      address = await daemon.start();
    } catch (error) {
      // The default port taken (another daemon, another demo): any free one will do.
      if (options.port !== undefined || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      await daemon.stop();
      store = await openStore({ engine: 'sqlite', path: dbPath }, { log });
      daemon = daemonOn(0);
      address = await daemon.start();
    }
    const running = daemon;
    const session = store;
    let round = 0;
    let changedAt = 0;
    return {
      statusUrl: `http://${address.host}:${address.port}/`,
      dbPath,
      logPath,
      parts,
      store: session,
      reports: () => running.reports(),
      pushReports: () => running.pushReports(),
      changeSources() {
        round += 1;
        const lines = parts.flatMap((part) => part.change(round));
        changedAt = Date.now();
        return lines;
      },
      async converge(timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const reports = await running.reports();
          const lagging = reports.filter(
            (report) => report.status !== 'idle' || report.cursor === null || report.lastAttemptAt === null || Date.parse(report.lastAttemptAt) <= changedAt,
          );
          const undelivered = (await running.pushReports()).filter((report) => report.outboxDepth > 0);
          const differences =
            lagging.length > 0
              ? []
              : [
                  ...(await Promise.all(parts.map((part) => part.compare(session)))).flat(),
                  ...undelivered.map((report) => `push target ${report.target}: ${report.outboxDepth} changes not delivered${report.lastError ? `: ${report.lastError}` : ''}`),
                ];
          if (lagging.length === 0 && differences.length === 0) return [];
          if (Date.now() > deadline) {
            return [...lagging.map((report) => `${report.stream}: ${report.status}, not synced since the last change${report.lastError ? `: ${report.lastError}` : ''}`), ...differences];
          }
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      },
      summary: async () => (await Promise.all(parts.map((part) => part.summary(session)))).flat(),
      async close() {
        await running.stop();
        await http.close();
        log.flush();
        await Promise.all(parts.map((part) => part.close()));
      },
    };
  } catch (error) {
    await store?.close().catch(() => undefined);
    await Promise.all(parts.map((part) => part.close().catch(() => undefined)));
    throw error;
  }
}
