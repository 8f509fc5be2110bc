/**
 * The part of a portal's Automation API v1.0 a pusher needs to empty a realtime dataset: the only
 * way ODS offers is to unpublish it (its pushed records are lost) and publish it again.
 *
 * Stable API (see `OdsSimulator.automation`):
 * - `GET  /api/automation/v1.0/datasets/?dataset_id=<id>&limit=&offset=` → `{total_count, next,
 *   previous, results: [{uid, dataset_id, is_published, is_restricted, created_at, updated_at}]}`
 * - `GET  …/datasets/<uid>/` → one of those objects
 * - `GET  …/datasets/<uid>/status/` → `{status, previous, next, since, is_published, message,
 *   records_errors}`; after a publish or an unpublish the status is `processing` for
 *   `processingPolls` answers (default 1), then `idle`.
 * - `POST …/datasets/<uid>/unpublish/` → `{"detail": "ok"}`: the dataset leaves the Explore API,
 *   refuses pushes, and a realtime dataset loses its records.
 * - `POST …/datasets/<uid>/publish/` → `{"detail": "ok"}`: served and open to pushes again.
 *   Both refuse with 400 `invalid_dataset_status` while the dataset is not idle, as ODS does.
 * - `POST …/datasets/<uid>/resources/<resource>/enable/` and `…/disable/` (the resource named as
 *   in the push URL) switch a realtime resource's push on and off.
 * - Auth: `Authorization: apikey <key>` or `?apikey=`, required when the simulator has an
 *   `automationKey`; errors `{"error_code", "message"}` (`not_authenticated`,
 *   `authentication_failed`, `not_found`, `invalid_dataset_status`).
 * - `calls`: every call in order (time, method, path, operation, dataset uid, status), so a test
 *   checks that a reset looked the uid up, unpublished, waited for idle, then published.
 */
import type { JsonValue } from '../../core/json.js';
import { apiKeyGiven } from './explore-api.js';
import type { HostedDataset, PortalData } from './portal-data.js';
import { formatMicros } from './portal-data.js';
import type { PushReceiver } from './push-receiver.js';
import { sendError, sendJson } from './responses.js';
import type { Exchange, Route } from './router.js';

export const AUTOMATION_BASE = '/api/automation/v1.0';

export type AutomationOperation = 'list' | 'get' | 'status' | 'publish' | 'unpublish' | 'enable' | 'disable';

export interface AutomationCall {
  readonly at: Date;
  readonly method: string;
  readonly path: string;
  readonly operation: AutomationOperation;
  readonly datasetUid: string | undefined;
  readonly status: number;
}

export interface AutomationApiOptions {
  /** When set, every call must carry it. */
  readonly key?: string;
  /** How many status answers say `processing` after a publish or unpublish (default 1). */
  readonly processingPolls?: number;
}

interface Processing {
  status: 'idle' | 'processing';
  previous: string | null;
  sinceMs: number;
  pollsLeft: number;
}

/** Statuses from which a publish or unpublish may start. */
const STARTABLE = ['idle', 'error', 'limit_reached'];

export class AutomationApi {
  readonly calls: AutomationCall[] = [];
  private readonly processing = new Map<string, Processing>();
  private readonly key: string | undefined;
  private readonly processingPolls: number;

  constructor(
    private readonly portal: PortalData,
    private readonly push: PushReceiver,
    options: AutomationApiOptions = {},
  ) {
    this.key = options.key;
    this.processingPolls = options.processingPolls ?? 1;
  }

  /** Where a dataset's processing stands (`idle` or `processing`). */
  status(uid: string): string {
    return this.state(uid).status;
  }

  routes(): Route[] {
    const dataset = `${AUTOMATION_BASE}/datasets/(?<uid>[^/]+)`;
    const resource = `${dataset}/resources/(?<resource>.+)`;
    return [
      this.guarded('GET', `${AUTOMATION_BASE}/datasets`, 'list', (exchange) => this.answerList(exchange)),
      this.route('GET', dataset, 'get', (exchange, target) => sendJson(exchange.res, this.datasetJson(target), {})),
      this.route('GET', `${dataset}/status`, 'status', (exchange, target) => this.answerStatus(exchange, target)),
      this.route('POST', `${dataset}/publish`, 'publish', (exchange, target) => this.answerPublication(exchange, target, true)),
      this.route('POST', `${dataset}/unpublish`, 'unpublish', (exchange, target) => this.answerPublication(exchange, target, false)),
      this.route('POST', `${resource}/enable`, 'enable', (exchange, target) => this.answerResource(exchange, target, true)),
      this.route('POST', `${resource}/disable`, 'disable', (exchange, target) => this.answerResource(exchange, target, false)),
    ];
  }

  /** A call behind the key check, recorded in `calls` once answered. */
  private guarded(method: string, path: string, operation: AutomationOperation, handle: (exchange: Exchange) => void): Route {
    return {
      method,
      path: new RegExp(`^${path}/?$`),
      handle: (exchange) => {
        const { res, url, params } = exchange;
        exchange.note.endpoint = `automation-${operation}`;
        res.once('finish', () => {
          this.calls.push({ at: this.portal.now(), method, path: url.pathname, operation, datasetUid: params['uid'], status: res.statusCode });
        });
        const refusal = this.authenticate(apiKeyGiven(exchange));
        if (refusal !== undefined) sendError(res, 401, refusal);
        else handle(exchange);
      },
    };
  }

  /** A call about one dataset, named by its uid: 404 when the portal has none. */
  private route(method: string, path: string, operation: AutomationOperation, handle: (exchange: Exchange, dataset: HostedDataset) => void): Route {
    return this.guarded(method, path, operation, (exchange) => {
      const uid = exchange.params['uid'];
      const dataset = this.portal.datasets().find((candidate) => candidate.uid === uid);
      if (dataset === undefined) {
        sendError(exchange.res, 404, { error_code: 'not_found', message: 'Not found.' });
        return;
      }
      exchange.note.dataset = dataset.id;
      handle(exchange, dataset);
    });
  }

  private authenticate(given: string | undefined): Readonly<Record<string, JsonValue>> | undefined {
    if (this.key === undefined) return undefined;
    if (given === undefined || given === '') return { error_code: 'not_authenticated', message: 'Authentication credentials were not provided.' };
    if (given !== this.key) return { error_code: 'authentication_failed', message: 'Incorrect authentication credentials.' };
    return undefined;
  }

  private answerList({ res, url }: Exchange): void {
    const id = url.searchParams.get('dataset_id');
    const limit = Number(url.searchParams.get('limit') ?? '10');
    const offset = Number(url.searchParams.get('offset') ?? '0');
    if (!Number.isInteger(limit) || limit < 0 || !Number.isInteger(offset) || offset < 0) {
      sendError(res, 400, { error_code: 'validation_error', message: 'Invalid input', detail: { limit: ['A non-negative integer is required.'] } });
      return;
    }
    const matching = this.portal.datasets().filter((dataset) => id === null || dataset.id === id);
    const page = matching.slice(offset, offset + limit);
    const link = (at: number): string => `${url.origin}${url.pathname}?limit=${limit}&offset=${at}${id === null ? '' : `&dataset_id=${encodeURIComponent(id)}`}`;
    sendJson(
      res,
      {
        total_count: matching.length,
        next: offset + limit < matching.length && limit > 0 ? link(offset + limit) : null,
        previous: offset > 0 && limit > 0 ? link(Math.max(0, offset - limit)) : null,
        results: page.map((dataset) => this.datasetJson(dataset)),
      },
      {},
    );
  }

  private answerStatus({ res }: Exchange, dataset: HostedDataset): void {
    const state = this.state(dataset.uid);
    const shown = state.status;
    if (state.status === 'processing') {
      if (state.pollsLeft > 0) state.pollsLeft -= 1;
      if (state.pollsLeft === 0) this.settle(state);
    }
    sendJson(
      res,
      {
        status: shown,
        previous: state.previous,
        next: null,
        since: formatMicros(state.sinceMs),
        is_published: dataset.published,
        message: null,
        records_errors: [],
      },
      {},
    );
  }

  /** An unpublish drops a realtime dataset's records ("existing records are not kept for the next time the dataset is published"). */
  private answerPublication({ res }: Exchange, dataset: HostedDataset, publish: boolean): void {
    const state = this.state(dataset.uid);
    if (!STARTABLE.includes(state.status)) {
      sendError(res, 400, {
        message: `Invalid precondition, dataset status is '${state.status}' but must be one of '${STARTABLE.join(', ')}'`,
        error_code: 'invalid_dataset_status',
      });
      return;
    }
    dataset.published = publish;
    if (!publish && dataset.realtime) dataset.records.clear();
    state.previous = state.status;
    state.status = 'processing';
    state.sinceMs = this.portal.now().getTime();
    state.pollsLeft = this.processingPolls;
    if (state.pollsLeft === 0) this.settle(state);
    sendJson(res, { detail: 'ok' }, {});
  }

  private answerResource({ res, params }: Exchange, dataset: HostedDataset, enabled: boolean): void {
    try {
      this.push.setEnabled(dataset.id, enabled, params['resource']);
    } catch {
      sendError(res, 404, { error_code: 'not_found', message: 'Not found.' });
      return;
    }
    sendJson(res, { detail: 'ok' }, {});
  }

  private settle(state: Processing): void {
    state.previous = state.status;
    state.status = 'idle';
    state.sinceMs = this.portal.now().getTime();
  }

  private state(uid: string): Processing {
    let state = this.processing.get(uid);
    if (state === undefined) {
      state = { status: 'idle', previous: null, sinceMs: this.portal.now().getTime(), pollsLeft: 0 };
      this.processing.set(uid, state);
    }
    return state;
  }

  private datasetJson(dataset: HostedDataset): { [key: string]: JsonValue } {
    const created = formatMicros(dataset.metadataProcessedMs);
    return {
      uid: dataset.uid,
      dataset_id: dataset.id,
      is_published: dataset.published,
      is_restricted: false,
      created_at: created,
      updated_at: formatMicros(dataset.dataProcessedMs ?? dataset.metadataProcessedMs),
    };
  }
}
