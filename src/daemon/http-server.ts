import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import type { JobReport } from './pending-jobs.js';
import type { Scrubber } from './secret-scrubber.js';
import type { StreamReport } from './stream-status.js';

export interface HealthSources {
  /** Rejects when the store does not answer. */
  readonly pingStore: () => Promise<void>;
  readonly reports: () => Promise<StreamReport[]>;
  readonly jobs: () => readonly JobReport[];
  readonly metrics: Metrics;
  readonly scrub: Scrubber;
  readonly log: Logger;
}

/**
 * The monitoring endpoints (DESIGN §7): /healthz (the process answers), /readyz (the store answers
 * and no stream is past its alertAfter), /status (JSON per stream) and /metrics (Prometheus).
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
  switch (path) {
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
      const body = JSON.stringify({ status: problems.length === 0 ? 'ready' : 'not-ready', problems });
      send(response, problems.length === 0 ? 200 : 503, 'application/json', sources.scrub(body));
      return;
    }
    case '/status': {
      const body = JSON.stringify({ streams: await sources.reports(), jobs: sources.jobs() }, null, 2);
      send(response, 200, 'application/json', sources.scrub(body));
      return;
    }
    case '/metrics': {
      const body = await sources.metrics.registry.metrics();
      send(response, 200, sources.metrics.registry.contentType, sources.scrub(body));
      return;
    }
    default:
      send(response, 404, 'text/plain', 'not found: try /healthz, /readyz, /status or /metrics\n');
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
  headers: Record<string, string> = {},
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
