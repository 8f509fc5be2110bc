/**
 * The Push API of a simulated portal: realtime datasets fed by a program, for the pusher's tests,
 * benchmarks and `demo`.
 *
 * Stable API (what tests and the demo use; see `OdsSimulator.push` and `OdsSimulator.pushUrl`):
 * - `addResource({ dataset, resource, pushKey, uniqueIds?, fields?, enabled? })` declares a realtime
 *   resource; the dataset is created (realtime) on the portal when it does not exist. Without
 *   `fields` the schema is taken from the first record pushed (ODS's "bootstrap data").
 * - `POST /api/push/1.0/<dataset>/<resource>/push/?pushkey=…` with a JSON object or an array of
 *   them: each record is stored under its record id, a SHA-1 of its Unique ID fields' values when
 *   the dataset declares some (so a later record with the same key replaces the earlier one), of all
 *   its values otherwise (so the same record pushed twice is one record). Answer `{"status": "OK"}`.
 * - `POST …/delete/` with the same body deletes the records those values identify;
 *   `GET …/<record_id>/delete/` deletes one by id. Deleting what is not there is still OK (also
 *   before the first push has given a dataset without `fields` its schema).
 * - Refusals, with `{"error_code", "message"}` bodies as the portal's other APIs write them (the
 *   Push API's own error body is not documented): a body over `maxBodyBytes` (default 5,000,000,
 *   the stricter reading of "5 MB") → 413; a missing or wrong push key → 401; a disabled resource
 *   or an unpublished dataset → 400 (the status ODS uses is not documented); malformed JSON, a
 *   record that is not an object or names a field outside the schema → 400; an unknown dataset or
 *   resource → 404; `/push` or `/delete` without the trailing slash → 405, as seen on real portals.
 * - Faults, armed through the simulator's `injectFault` with `on: 'push' | 'push-delete' |
 *   'push-delete-id'`: `status` (an HTML error page, nothing applied), `quota` (429), `drop`
 *   (connection closed after the body was received; with `afterApplying: true` after its records
 *   were applied, so the client cannot know that it took effect).
 * - `log`: every request with its time, duration, operation, path (never the key), size in bytes,
 *   record count, status (undefined when dropped), whether it was applied, fault and error.
 * - `records(dataset)`, `recordsById(dataset)`, `count(dataset)`: what the dataset holds now;
 *   `setEnabled`, `renewKey` change a resource as the back office would.
 */
import type { IncomingMessage } from 'node:http';
import type { JsonValue } from '../../core/json.js';
import { isRecord } from '../../core/json.js';
import { sendQuotaExceeded } from './explore-api.js';
import type { FaultQueue, OdsEndpoint } from './faults.js';
import type { HostedDataset, OdsField, OdsFieldType, PortalData, RecordValues } from './portal-data.js';
import type { DailyQuota } from './quota.js';
import { JSON_TYPE, sendError, sendText } from './responses.js';
import type { Exchange, Route } from './router.js';

export const PUSH_BASE = '/api/push/1.0';

/** "Realtime push requests are limited to a 5MB payload": read as 5,000,000 bytes, the stricter of the two readings. */
export const PUSH_BODY_LIMIT = 5_000_000;

export interface RealtimeResource {
  /** The dataset_id the push URL names. */
  readonly dataset: string;
  /** The resource id of the push URL (`realtime`, `realtime0`, `echtzeit`, ...). */
  readonly resource: string;
  readonly pushKey: string;
  /** Fields marked "Unique ID": records are keyed by their values, a later push replaces an earlier one. */
  readonly uniqueIds?: readonly string[];
  /** The dataset's schema; default: taken from the first record pushed. */
  readonly fields?: readonly OdsField[];
  /** Default true; a disabled resource refuses pushes and keeps its records. */
  readonly enabled?: boolean;
}

export type PushOperation = 'push' | 'delete' | 'delete-id';

/** One request the receiver got. */
export interface PushRequestRecord {
  /** When the request arrived (the portal's clock). */
  readonly at: Date;
  /** How long it took to receive and answer, in milliseconds. */
  readonly ms: number;
  readonly method: string;
  readonly operation: PushOperation | undefined;
  /** The path without the query (the push key is never logged). */
  readonly path: string;
  readonly dataset: string | undefined;
  readonly resource: string | undefined;
  /** The body's size in bytes. */
  readonly bytes: number;
  /** Records in the body (1 for a delete by id), 0 when it could not be read. */
  readonly records: number;
  /** Undefined when the connection was dropped without an answer. */
  readonly status: number | undefined;
  /** Whether its records were applied to the dataset. */
  readonly applied: boolean;
  readonly fault: string | undefined;
  /** The refusal's message. */
  readonly error: string | undefined;
}

interface ResourceState {
  readonly dataset: string;
  readonly resource: string;
  pushKey: string;
  enabled: boolean;
  readonly uniqueIds: readonly string[];
}

interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export interface PushReceiverOptions {
  readonly maxBodyBytes?: number;
  /** How many requests `log` keeps (default 100,000). */
  readonly keepRequests?: number;
}

export class PushReceiver {
  readonly log: PushRequestRecord[] = [];
  readonly maxBodyBytes: number;
  private readonly keepRequests: number;
  private readonly resources = new Map<string, ResourceState>();

  constructor(
    private readonly portal: PortalData,
    private readonly faults: FaultQueue,
    private readonly quota: DailyQuota,
    options: PushReceiverOptions = {},
  ) {
    this.maxBodyBytes = options.maxBodyBytes ?? PUSH_BODY_LIMIT;
    this.keepRequests = options.keepRequests ?? 100_000;
  }

  addResource(definition: RealtimeResource): HostedDataset {
    const key = resourceKey(definition.dataset, definition.resource);
    if (this.resources.has(key)) throw new Error(`realtime resource ${definition.resource} of ${definition.dataset} exists already`);
    const dataset = this.portal.find(definition.dataset) ?? this.portal.addDataset({ id: definition.dataset, fields: definition.fields ?? [], realtime: true });
    if (!dataset.realtime) throw new Error(`dataset ${definition.dataset} is file-sourced: it cannot take pushes`);
    const uniqueIds = definition.uniqueIds ?? [];
    if (dataset.fields.length > 0) {
      const names = new Set(dataset.fields.map((field) => field.name));
      const unknown = uniqueIds.filter((name) => !names.has(name));
      if (unknown.length > 0) throw new Error(`Unique ID fields ${unknown.join(', ')} are not fields of ${definition.dataset}`);
      if (uniqueIds.length > 0) dataset.fields = markUniqueIds(dataset.fields, uniqueIds);
    }
    this.resources.set(key, { dataset: definition.dataset, resource: definition.resource, pushKey: definition.pushKey, enabled: definition.enabled ?? true, uniqueIds });
    return dataset;
  }

  /** The path and query of a resource's push URL (the simulator's `pushUrl` prefixes its origin). */
  pushPath(dataset: string, resource?: string): string {
    const state = this.resource(dataset, resource);
    return `${PUSH_BASE}/${encodeURIComponent(state.dataset)}/${state.resource.split('/').map(encodeURIComponent).join('/')}/push/?pushkey=${encodeURIComponent(state.pushKey)}`;
  }

  /** Disables or enables a resource, as the back office's "Disable push" does. */
  setEnabled(dataset: string, enabled: boolean, resource?: string): void {
    this.resource(dataset, resource).enabled = enabled;
  }

  /** A new push key: URLs with the old one are refused from now on. */
  renewKey(dataset: string, pushKey: string, resource?: string): void {
    this.resource(dataset, resource).pushKey = pushKey;
  }

  /** The records the dataset holds now, each with one value per field. */
  records(dataset: string): RecordValues[] {
    return [...this.portal.get(dataset).records.values()].map((record) => record.values);
  }

  recordsById(dataset: string): ReadonlyMap<string, RecordValues> {
    return new Map([...this.portal.get(dataset).records].map(([id, record]) => [id, record.values]));
  }

  count(dataset: string): number {
    return this.portal.get(dataset).records.size;
  }

  routes(): Route[] {
    const prefix = `^${PUSH_BASE}/(?<dataset>[^/]+)/(?<resource>.+?)`;
    const missingSlash: Route['handle'] = ({ res, url }) =>
      sendError(res, 405, { error_code: 'MethodNotAllowed', message: `Method not allowed on ${url.pathname}: the push and delete URLs end with a slash.` });
    return [
      { method: 'POST', path: new RegExp(`${prefix}/push/$`), handle: (exchange) => this.answer(exchange, 'push') },
      { method: 'POST', path: new RegExp(`${prefix}/delete/$`), handle: (exchange) => this.answer(exchange, 'delete') },
      { method: 'GET', path: new RegExp(`${prefix}/(?<record>[^/]+)/delete/$`), handle: (exchange) => this.answer(exchange, 'delete-id') },
      { method: 'POST', path: new RegExp(`${prefix}/(push|delete)$`), handle: missingSlash },
      { method: 'GET', path: new RegExp(`${prefix}/(push|delete)$`), handle: missingSlash },
    ];
  }

  private resource(dataset: string, resource: string | undefined): ResourceState {
    if (resource !== undefined) {
      const state = this.resources.get(resourceKey(dataset, resource));
      if (state === undefined) throw new Error(`no realtime resource ${resource} on ${dataset}`);
      return state;
    }
    const states = [...this.resources.values()].filter((state) => state.dataset === dataset);
    const [only] = states;
    if (only === undefined || states.length > 1) throw new Error(`dataset ${dataset} has ${states.length} realtime resources: name one`);
    return only;
  }

  private async answer(exchange: Exchange, operation: PushOperation): Promise<void> {
    const started = performance.now();
    const at = this.portal.now();
    const { req, res, url, params } = exchange;
    const dataset = params['dataset'];
    const resource = params['resource'];
    exchange.note.endpoint = ENDPOINTS[operation];
    if (dataset !== undefined) exchange.note.dataset = dataset;
    const { bytes, body } = await readBody(req, this.maxBodyBytes);
    let records = operation === 'delete-id' ? 1 : 0;
    let applied = false;
    const armed = this.faults.take(ENDPOINTS[operation], dataset);
    const fault = armed?.type;
    let error: string | undefined;
    const record = (status: number | undefined): void => {
      this.log.push({ at, ms: performance.now() - started, method: req.method ?? '', operation, path: url.pathname, dataset, resource, bytes, records, status, applied, fault, error });
      if (this.log.length > this.keepRequests) this.log.splice(0, this.log.length - this.keepRequests);
    };
    const refuse = (refusal: Refusal): void => {
      error = refusal.message;
      sendError(res, refusal.status, { error_code: refusal.code, message: refusal.message });
      record(refusal.status);
    };

    if (fault !== undefined) exchange.note.fault = fault;
    switch (armed?.type) {
      case 'status':
        sendText(res, armed.status, 'text/html; charset=utf-8', `<html><body><h1>${armed.status} Server Error</h1></body></html>`);
        record(armed.status);
        return;
      case 'html':
        sendText(res, 200, 'text/html; charset=utf-8', '<html><body><h1>Maintenance</h1></body></html>');
        record(200);
        return;
      case 'quota':
        sendQuotaExceeded(res, this.quota);
        record(429);
        return;
      case 'drop':
        if (armed.afterApplying !== true) {
          res.destroy();
          record(undefined);
          return;
        }
        break;
      case 'cutExport':
      case undefined:
        break;
    }

    if (body === undefined) {
      refuse({ status: 413, code: 'PayloadTooLarge', message: `Realtime push requests are limited to ${this.maxBodyBytes} bytes; this one has ${bytes}. Split it into several smaller requests.` });
      return;
    }
    const state = dataset === undefined || resource === undefined ? undefined : this.resources.get(resourceKey(dataset, resource));
    if (state === undefined) {
      refuse({ status: 404, code: 'NotFoundResource', message: `No realtime resource ${resource ?? ''} on dataset ${dataset ?? ''}.` });
      return;
    }
    const refusal = this.gate(state, url);
    if (refusal !== undefined) {
      refuse(refusal);
      return;
    }
    const target = this.portal.get(state.dataset);
    let ids: string[] = [];
    if (operation === 'delete-id') {
      ids = [params['record'] ?? ''];
    } else {
      const parsed = parseRecords(body, target);
      if ('message' in parsed) {
        refuse(parsed);
        return;
      }
      records = parsed.length;
      if (operation === 'push' && target.fields.length === 0 && parsed[0] !== undefined) target.fields = markUniqueIds(bootstrapFields(parsed[0]), state.uniqueIds);
      // Before the first push has given it a schema, the dataset holds nothing: a delete there is of
      // absent values, OK as anywhere else (on a real portal the schema comes first, from bootstrap data).
      const unknown = operation === 'delete' && target.fields.length === 0 ? undefined : unknownField(parsed, target);
      if (unknown !== undefined) {
        refuse(unknown);
        return;
      }
      if (operation === 'push') {
        this.portal.changeRecords(state.dataset, { insert: parsed });
      } else {
        ids = parsed.map((values) => target.recordId(target.normalise(values)));
      }
    }
    if (operation !== 'push') this.portal.changeRecords(state.dataset, { delete: ids });
    applied = true;

    if (armed?.type === 'drop') {
      res.destroy();
      record(undefined);
      return;
    }
    const text = Buffer.from(JSON.stringify({ status: 'OK' }), 'utf8');
    res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': String(text.length) });
    res.end(text);
    record(200);
  }

  /** The key, then the resource's and the dataset's state. */
  private gate(state: ResourceState, url: URL): Refusal | undefined {
    const key = url.searchParams.get('pushkey');
    if (key === null || key === '') return { status: 401, code: 'InvalidPushKey', message: 'A push key is required (pushkey parameter).' };
    if (key !== state.pushKey) return { status: 401, code: 'InvalidPushKey', message: 'The push key is not valid for this resource.' };
    if (!state.enabled) return { status: 400, code: 'PushDisabled', message: `Push is disabled on resource ${state.resource} of ${state.dataset}: no data was added.` };
    if (!this.portal.get(state.dataset).published) {
      return { status: 400, code: 'DatasetNotPublished', message: `Dataset ${state.dataset} is not published: pushed data is accepted after publication.` };
    }
    return undefined;
  }
}

const ENDPOINTS: Readonly<Record<PushOperation, OdsEndpoint>> = { push: 'push', delete: 'push-delete', 'delete-id': 'push-delete-id' };

function resourceKey(dataset: string, resource: string): string {
  return `${dataset}\u0000${resource}`;
}

function markUniqueIds(fields: readonly OdsField[], uniqueIds: readonly string[]): OdsField[] {
  return fields.map((field) => (uniqueIds.includes(field.name) ? { ...field, annotations: { ...(field.annotations ?? {}), id: true } } : field));
}

/** A schema from the first record's values, as a portal derives one from bootstrap data. */
function bootstrapFields(values: RecordValues): OdsField[] {
  return Object.entries(values).map(([name, value]) => ({ name, type: guessType(value) }));
}

function guessType(value: JsonValue): OdsFieldType {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'double';
  if (typeof value === 'object' && value !== null) return 'json_blob';
  return 'text';
}

/**
 * The body read in full; `body` undefined when it grew past the limit (the rest is read and
 * discarded, so that the refusal reaches a client that is still sending).
 */
async function readBody(req: IncomingMessage, limit: number): Promise<{ bytes: number; body: Buffer | undefined }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes <= limit) chunks.push(chunk);
    else chunks.length = 0;
  }
  return { bytes, body: bytes <= limit ? Buffer.concat(chunks) : undefined };
}

/** The records of a push or delete body: one JSON object, or an array of them. */
function parseRecords(body: Buffer, dataset: HostedDataset): RecordValues[] | Refusal {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return { status: 400, code: 'InvalidJSON', message: `The body of a push to ${dataset.id} is not JSON: ${(error as Error).message}` };
  }
  const items = Array.isArray(parsed) ? (parsed as unknown[]) : [parsed];
  const records: RecordValues[] = [];
  for (const [index, item] of items.entries()) {
    if (!isRecord(item)) return { status: 400, code: 'InvalidRecord', message: `Record ${index} of a push to ${dataset.id} is not a JSON object.` };
    records.push(item as RecordValues);
  }
  return records;
}

function unknownField(records: readonly RecordValues[], dataset: HostedDataset): Refusal | undefined {
  const names = new Set(dataset.fields.map((field) => field.name));
  for (const [index, values] of records.entries()) {
    const unknown = Object.keys(values).find((name) => !names.has(name));
    if (unknown !== undefined) {
      return {
        status: 400,
        code: 'UnknownField',
        message: `Record ${index} of a push to ${dataset.id} has field ${unknown}, which is not in the dataset's schema (${[...names].join(', ')}).`,
      };
    }
  }
  return undefined;
}
