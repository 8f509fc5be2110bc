import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { AUTH_CHALLENGES, type EndpointAuth } from './endpoint-auth.js';
import type { Metrics } from './metrics.js';
import type { PushReport } from '../push/push-report.js';
import type { JobReport } from './pending-jobs.js';
import type { Scrubber } from './secret-scrubber.js';
import { renderStatusPage } from './status-page.js';
import { STATUS_PAGE_CSP } from './status-page-assets.js';
import type { StreamReport } from './stream-status.js';

export interface HealthSources {
  /** Rejects when the store does not answer. */
  readonly pingStore: () => Promise<void>;
  readonly reports: () => Promise<StreamReport[]>;
  /** Push targets (outbox depth, push lag, last error); none when absent. */
  readonly pushReports?: () => Promise<PushReport[]>;
  readonly jobs: () => readonly JobReport[];
  /** Changes applied per hour over the last 24 hours, by stream, for the page's sparklines; absent where not kept. */
  readonly history?: () => Promise<ReadonlyMap<string, readonly number[]>>;
  readonly metrics: Metrics;
  readonly scrub: Scrubber;
  readonly log: Logger;
  readonly auth: EndpointAuth;
}

/** Seconds between refreshes of the status page, unless `?refresh=N` (2 to 3600) asks otherwise. */
const PAGE_REFRESH_SECONDS = 15;

function refreshSeconds(asked: string | null): number {
  const seconds = asked === null ? NaN : Number(asked);
  return Number.isInteger(seconds) && seconds >= 2 && seconds <= 3_600 ? seconds : PAGE_REFRESH_SECONDS;
}

/**
 * The monitoring endpoints: `/` (the status page), /healthz (the process answers), /readyz (the
 * store answers and no stream is past its alert threshold), /status (JSON per stream) and
 * /metrics (Prometheus). The probes stay open; the others show what is mirrored and from where,
 * so they need a token when the config has any.
 */
export function createHealthServer(sources: HealthSources): Server {
  return createServer((request, response) => {
    handle(sources, request, response).catch((error: unknown) => {
      sources.log.error({ err: (error as Error).message, path: request.url }, 'endpoint failed');
      if (!response.headersSent) send(response, 500, 'text/plain', 'internal error\n');
      else response.destroy();
    });
  });
}

async function handle(sources: HealthSources, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' });
    return;
  }
  const guarded = path === '/' || path === '/status' || path === '/metrics';
  if (guarded && !sources.auth.allows(request.headers.authorization)) {
    send(response, 401, 'text/plain', 'a token is required: Authorization: Bearer <token>\n', { 'www-authenticate': AUTH_CHALLENGES });
    return;
  }
  switch (path) {
    case '/': {
      const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
      // Scrubbed before they are escaped into HTML, where a secret would no longer read as itself.
      const streams = JSON.parse(sources.scrub(JSON.stringify(await sources.reports()))) as StreamReport[];
      const jobs = JSON.parse(sources.scrub(JSON.stringify(sources.jobs()))) as JobReport[];
      const pushTargets = JSON.parse(sources.scrub(JSON.stringify((await sources.pushReports?.()) ?? []))) as PushReport[];
      const page = renderStatusPage({
        streams,
        jobs,
        pushTargets,
        now: new Date(),
        ...(sources.history ? { history: await sources.history() } : {}),
        filter: { job: query.get('job') ?? undefined, state: query.get('state') ?? undefined },
        refreshSeconds: refreshSeconds(query.get('refresh')),
      });
      send(response, 200, 'text/html; charset=utf-8', sources.scrub(page), {
        'content-security-policy': STATUS_PAGE_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      return;
    }
    case '/healthz':
      send(response, 200, 'application/json', JSON.stringify({ status: 'ok' }));
      return;
    case '/readyz': {
      const problems: string[] = [];
      try {
        await sources.pingStore();
      } catch (error) {
        problems.push(`store unreachable: ${(error as Error).message}`);
      }
      const reports = problems.length === 0 ? await sources.reports() : [];
      for (const job of sources.jobs()) {
        if (!job.expanded) problems.push(`job ${job.job}: could not be expanded into streams (${job.failures} attempts): ${job.lastError}`);
      }
      for (const report of reports) {
        if (report.alerting) problems.push(readinessProblem(report));
      }
      for (const target of problems.length === 0 || reports.length > 0 ? ((await sources.pushReports?.()) ?? []) : []) {
        if (target.alerting) {
          problems.push(`push ${target.target}: changes undelivered for ${target.lagSeconds} s (alertAfter ${target.alertAfterSeconds ?? 0} s)${target.lastError ? `; last error: ${target.lastError}` : ''}`);
        }
      }
      const body = JSON.stringify({ status: problems.length === 0 ? 'ready' : 'not-ready', problems });
      send(response, problems.length === 0 ? 200 : 503, 'application/json', sources.scrub(body));
      return;
    }
    case '/status': {
      const body = JSON.stringify({ streams: await sources.reports(), jobs: sources.jobs(), pushTargets: (await sources.pushReports?.()) ?? [] }, null, 2);
      send(response, 200, 'application/json', sources.scrub(body));
      return;
    }
    case '/metrics': {
      const body = await sources.metrics.registry.metrics();
      send(response, 200, sources.metrics.registry.contentType, sources.scrub(body));
      return;
    }
    default:
      send(response, 404, 'text/plain', 'not found: try /, /healthz, /readyz, /status or /metrics\n');
  }
}

function readinessProblem(report: StreamReport): string {
  if (report.lastSuccessAt !== null) return `${report.stream}: no successful sync for ${report.lagSeconds ?? 0} s`;
  if (report.consecutiveFailures === 0) return `${report.stream}: no successful sync since the daemon started`;
  const runs = `${report.consecutiveFailures} failed run${report.consecutiveFailures === 1 ? '' : 's'}`;
  return `${report.stream}: never synced successfully; ${runs}, the last: ${report.lastError ?? 'no error recorded'}`;
}

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string | readonly string[]> = {},
): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

export async function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}
