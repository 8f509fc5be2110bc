import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listen } from '../listen.js';
import { AutomationApi } from './automation-api.js';
import { exploreRoutes, type ExportHook } from './explore-api.js';
import { FaultQueue, type FaultOptions, type OdsFault } from './faults.js';
import { PortalData, type DatasetDefinition } from './portal-data.js';
import { PushReceiver, type RealtimeResource } from './push-receiver.js';
import { DailyQuota } from './quota.js';
import { sendError } from './responses.js';
import { Router, type Exchange, type Route } from './router.js';

export interface OdsSimulatorOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  readonly host?: string;
  /** The portal's clock (data_processed, record timestamps, the quota's day). Default: the real one. */
  readonly now?: () => Date;
  /** Calls per day before 429s (default 100,000). */
  readonly quota?: number;
  /** A private portal: every call must carry this key. */
  readonly apiKey?: string;
  readonly datasets?: readonly DatasetDefinition[];
  /** How many recent requests `requests` keeps (default 10,000). */
  readonly keepRequests?: number;
  /** Realtime resources the Push API receives (their datasets are created when not in `datasets`). */
  readonly realtime?: readonly RealtimeResource[];
  /** The Push API's request size limit in bytes (default 5,000,000). */
  readonly pushBodyLimit?: number;
  /** The Automation API's key; default: the Automation API asks for none. */
  readonly automationKey?: string;
  /** How many status answers say `processing` after a publish or an unpublish (default 1). */
  readonly processingPolls?: number;
}

/** One request the portal answered, for tests that check what a client asked. */
export interface PortalRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** `catalog`, `catalog-export`, `dataset`, `records`, `export`, or what a mounted route says. */
  readonly endpoint: string | undefined;
  readonly dataset: string | undefined;
  readonly status: number;
  readonly fault: string | undefined;
}

export interface OdsSimulator {
  /** The portal's public URL (no path): what a job's `portal` names. */
  readonly url: string;
  readonly portal: PortalData;
  readonly quota: DailyQuota;
  readonly requests: readonly PortalRequest[];
  /** Spoil the next matching answer(s). */
  injectFault(fault: OdsFault, options?: FaultOptions): void;
  clearFaults(): void;
  /** Run `action` once while the next export (of `dataset`) is half sent, or after `afterRecords`. */
  duringNextExport(action: () => void, options?: { readonly dataset?: string; readonly afterRecords?: number }): void;
  /** The Push API receiver: realtime resources, their records, its request log (see push-receiver.ts). */
  readonly push: PushReceiver;
  /** The Automation API's publication state and the calls it got, in order (see automation-api.ts). */
  readonly automation: AutomationApi;
  /** The full push URL of a dataset's realtime resource, key included (the resource may be omitted when it has one). */
  pushUrl(dataset: string, resource?: string): string;
  /** More APIs of the same portal (e.g. a Push API receiver), answered next to the Explore API. */
  mount(routes: readonly Route[]): void;
  close(): Promise<void>;
}

/**
 * An Opendatasoft portal over real HTTP: the Explore API v2.1 a mirror uses, with its paging
 * limits, error bodies, rate-limit headers and quota, datasets that tests change through `portal`
 * (records, renames, removals, reprocessing, schema changes), and faults on demand.
 */
export async function startOdsSimulator(options: OdsSimulatorOptions = {}): Promise<OdsSimulator> {
  const now = options.now ?? (() => new Date());
  const portal = new PortalData(now);
  for (const definition of options.datasets ?? []) portal.addDataset(definition);
  const faults = new FaultQueue();
  const quota = new DailyQuota(options.quota ?? 100_000, now);
  const exportHooks: ExportHook[] = [];
  const router = new Router();
  router.mount(exploreRoutes({ portal, faults, quota, apiKey: options.apiKey, exportHooks }));
  const push = new PushReceiver(portal, faults, quota, options.pushBodyLimit === undefined ? {} : { maxBodyBytes: options.pushBodyLimit });
  for (const resource of options.realtime ?? []) push.addResource(resource);
  router.mount(push.routes());
  const automation = new AutomationApi(portal, push, {
    ...(options.automationKey === undefined ? {} : { key: options.automationKey }),
    ...(options.processingPolls === undefined ? {} : { processingPolls: options.processingPolls }),
  });
  router.mount(automation.routes());
  const requests: PortalRequest[] = [];
  const keepRequests = options.keepRequests ?? 10_000;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://portal');
    const note: Exchange['note'] = {};
    res.once('close', () => {
      requests.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        endpoint: note.endpoint,
        dataset: note.dataset,
        status: res.statusCode,
        fault: note.fault,
      });
      if (requests.length > keepRequests) requests.splice(0, requests.length - keepRequests);
    });
    const found = router.match(req.method ?? 'GET', url.pathname);
    if (found === undefined) {
      sendError(res, 404, { error_code: 'NotFoundResource', message: `Nothing is served at ${url.pathname}.` });
      return;
    }
    if (found === 'wrong method') {
      sendError(res, 405, { error_code: 'MethodNotAllowed', message: `${req.method ?? ''} is not allowed on ${url.pathname}.` });
      return;
    }
    Promise.resolve(found.route.handle({ req, res, url, params: found.params, note })).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, { error_code: 'InternalError', message: String(error) });
      else res.destroy();
    });
  };

  const server = createServer(handle);
  server.on('clientError', (_error, socket) => socket.destroy());
  const { origin } = await listen(server, options.port, options.host);

  return {
    url: origin,
    portal,
    quota,
    requests,
    injectFault: (fault, faultOptions) => faults.add(fault, faultOptions),
    clearFaults: () => faults.clear(),
    duringNextExport: (action, hookOptions = {}) => exportHooks.push({ action, dataset: hookOptions.dataset, afterRecords: hookOptions.afterRecords }),
    push,
    automation,
    pushUrl: (dataset, resource) => `${origin}${push.pushPath(dataset, resource)}`,
    mount: (routes) => router.mount(routes),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
