import type { ServerResponse } from 'node:http';
import type { JsonValue } from '../../core/json.js';
import { datasetJson } from './dataset-json.js';
import type { FaultQueue, OdsEndpoint, OdsFault } from './faults.js';
import { compareBy, OdsqlError, parseOrderBy, parseSelect, parseWhere, type Filter, type FilterRow, type SelectItem } from './odsql.js';
import type { HostedDataset, PortalData, StoredRecord } from './portal-data.js';
import type { DailyQuota } from './quota.js';
import { LOGIN_PAGE, sendDatasetNotFound, sendError, sendInvalidParameter, sendJson, sendText } from './responses.js';
import type { Exchange, Route } from './router.js';

export const EXPLORE_BASE = '/api/explore/v2.1';

/** A one-shot action run while an export is being sent: the portal changes under a client's feet. */
export interface ExportHook {
  readonly dataset: string | undefined;
  readonly afterRecords: number | undefined;
  readonly action: () => void;
}

export interface ExploreContext {
  readonly portal: PortalData;
  readonly faults: FaultQueue;
  readonly quota: DailyQuota;
  /** When set, every call must carry it (`Authorization: Apikey ...` or `apikey=`). */
  readonly apiKey: string | undefined;
  readonly exportHooks: ExportHook[];
}

/** Rows per records page at most, and how far paging reaches (offset + limit), as on real portals. */
export const MAX_PAGE = 100;
export const PAGING_WINDOW = 10_000;

const COMMON = ['lang', 'timezone', 'apikey'];
const LISTING = ['select', 'where', 'order_by', 'refine', 'exclude', ...COMMON];

/** The Explore API v2.1 endpoints a mirror uses: catalog, catalog export, dataset, records, exports. */
export function exploreRoutes(context: ExploreContext): Route[] {
  const dataset = '(?<dataset>[^/]+)';
  return [
    route('/catalog/datasets', 'catalog', context, (exchange) => answerCatalog(context, exchange)),
    route('/catalog/exports/(?<format>[^/]+)', 'catalog-export', context, (exchange, fault) => answerCatalogExport(context, exchange, fault)),
    route(`/catalog/datasets/${dataset}`, 'dataset', context, (exchange) => answerDataset(context, exchange)),
    route(`/catalog/datasets/${dataset}/records`, 'records', context, (exchange) => answerRecords(context, exchange)),
    route(`/catalog/datasets/${dataset}/exports/(?<format>[^/]+)`, 'export', context, (exchange, fault) => answerExport(context, exchange, fault)),
  ];
}

/**
 * A route behind the gate every call passes: the API key, the quota, then the faults a test armed.
 * What is left for the handler is a fault only it can play (a cut export).
 */
function route(
  path: string,
  endpoint: OdsEndpoint,
  context: ExploreContext,
  handle: (exchange: Exchange, fault: OdsFault | undefined) => void | Promise<void>,
): Route {
  return {
    method: 'GET',
    path: new RegExp(`^${EXPLORE_BASE}${path}/?$`),
    async handle(exchange) {
      exchange.note.endpoint = endpoint;
      const datasetId = exchange.params['dataset'];
      if (datasetId !== undefined) exchange.note.dataset = datasetId;
      const { res } = exchange;
      if (!authorised(context, exchange)) {
        sendError(res, 401, { error_code: 'AuthenticationError', message: 'An API key is required to access this portal.' });
        return;
      }
      if (!context.quota.take()) {
        sendQuotaExceeded(res, context.quota);
        return;
      }
      const fault = context.faults.take(endpoint, datasetId);
      if (fault !== undefined) exchange.note.fault = fault.type;
      switch (fault?.type) {
        case 'status':
          sendText(res, fault.status, 'text/html; charset=utf-8', `<html><body><h1>${fault.status} Server Error</h1></body></html>`);
          return;
        case 'html':
          sendText(res, 200, 'text/html; charset=utf-8', LOGIN_PAGE);
          return;
        case 'quota':
          sendQuotaExceeded(res, context.quota);
          return;
        case 'drop':
          res.destroy();
          return;
        case 'cutExport':
        case undefined:
          try {
            await handle(exchange, fault);
          } catch (error) {
            if (!(error instanceof OdsqlError)) throw error;
            sendError(res, 400, { error_code: 'ODSQLError', message: error.message });
          }
      }
    },
  };
}

function authorised(context: ExploreContext, exchange: Exchange): boolean {
  return context.apiKey === undefined || apiKeyGiven(exchange) === context.apiKey;
}

/** The key a call carries, as portals take it: `Authorization: Apikey <key>` (any case), else `?apikey=`. */
export function apiKeyGiven({ req, url }: Exchange): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined && /^apikey\s+/i.test(header)) return header.replace(/^apikey\s+/i, '');
  return url.searchParams.get('apikey') ?? undefined;
}

export function sendQuotaExceeded(res: ServerResponse, quota: DailyQuota): void {
  sendError(res, 429, {
    errorcode: 10002,
    reset_time: quota.resetAt().toISOString().replace('.000Z', 'Z'),
    limit_time_unit: 'day',
    call_limit: quota.limit,
    error: 'Too many requests on the domain. Please contact the domain administrator.',
  });
}

/** The query parameters, or undefined once a 400 was sent for one the simulator does not implement. */
function parameters(exchange: Exchange, allowed: readonly string[]): URLSearchParams | undefined {
  const params = exchange.url.searchParams;
  for (const name of params.keys()) {
    if (!allowed.includes(name)) {
      sendInvalidParameter(exchange.res, `Unknown parameter: ${name} (the simulated portal does not implement it)`);
      return undefined;
    }
  }
  const timezone = params.get('timezone');
  if (timezone !== null && timezone !== 'UTC') {
    sendInvalidParameter(exchange.res, `Invalid value for timezone API parameter: the simulated portal only answers in UTC, not ${timezone}.`);
    return undefined;
  }
  return params;
}

interface Page {
  readonly limit: number;
  readonly offset: number;
}

/** limit (-1..100, default 10) and offset, with `offset + limit <= 10000` (a sum of exactly 10000 is accepted). */
function paging(exchange: Exchange, params: URLSearchParams): Page | undefined {
  const limitText = params.get('limit') ?? '10';
  const offsetText = params.get('offset') ?? '0';
  const limit = Number(limitText);
  const offset = Number(offsetText);
  if (!/^-?\d+$/.test(limitText) || limit < -1 || limit > MAX_PAGE) {
    sendInvalidParameter(exchange.res, `Invalid value for limit API parameter: ${limitText} was found but -1 <= limit <= ${MAX_PAGE} is expected.`);
    return undefined;
  }
  if (!/^\d+$/.test(offsetText)) {
    sendInvalidParameter(exchange.res, `Invalid value for offset API parameter: ${offsetText} was found but offset >= 0 is expected.`);
    return undefined;
  }
  const effective = limit === -1 ? MAX_PAGE : limit;
  if (offset + effective > PAGING_WINDOW) {
    sendInvalidParameter(
      exchange.res,
      `Invalid value for offset API parameter: offset + limit must be lower than or equal to ${PAGING_WINDOW}, but ${offset} + ${effective} was found. Use the exports endpoint to get more results.`,
    );
    return undefined;
  }
  return { limit: effective, offset };
}

// ---------------------------------------------------------------------------------------------
// The catalog

const TECHNICAL_DATASET_FIELDS = ['dataset_id', 'datasetid', 'dataset_uid', 'has_records', 'features', 'data_visible'];

interface CatalogRow {
  readonly dataset: HostedDataset;
  readonly json: { [key: string]: JsonValue };
}

function catalogValue(row: CatalogRow, field: string): JsonValue | undefined {
  if (field === 'datasetid') return row.json['dataset_id'];
  if (TECHNICAL_DATASET_FIELDS.includes(field)) return row.json[field];
  const dot = field.indexOf('.');
  const template = dot < 0 ? 'default' : field.slice(0, dot);
  const name = dot < 0 ? field : field.slice(dot + 1);
  const metas = row.json['metas'] as { [template: string]: { [name: string]: JsonValue } | undefined };
  return metas[template]?.[name];
}

/** The catalog's rows after where/refine/exclude and order_by, before paging. */
function catalogRows(context: ExploreContext, params: URLSearchParams): CatalogRow[] {
  const rows = context.portal.datasets().filter((dataset) => dataset.published).map((dataset) => ({ dataset, json: datasetJson(dataset) }));
  const known = new Set(TECHNICAL_DATASET_FIELDS);
  for (const row of rows) {
    for (const [template, values] of Object.entries(row.json['metas'] as { [template: string]: { [name: string]: JsonValue } })) {
      for (const name of Object.keys(values)) {
        known.add(`${template}.${name}`);
        if (template === 'default') known.add(name);
      }
    }
  }
  const filterRow = (row: CatalogRow): FilterRow => ({
    value: (field) => catalogValue(row, field),
    searchText: () => ['title', 'description', 'keyword', 'theme'].map((name) => JSON.stringify(catalogValue(row, name) ?? '')).join(' '),
  });
  return filterAndSort(rows, params, (field) => known.has(field), filterRow, catalogValue);
}

function filterAndSort<T>(
  rows: readonly T[],
  params: URLSearchParams,
  knownField: (name: string) => boolean,
  filterRow: (row: T) => FilterRow,
  value: (row: T, field: string) => JsonValue | undefined,
): T[] {
  const filters: Filter[] = params.getAll('where').filter((text) => text.trim() !== '').map((text) => parseWhere(text, knownField));
  const facet = (text: string, parameter: string): [string, string] => {
    const colon = text.indexOf(':');
    if (colon < 1) throw new OdsqlError(`${parameter} ${JSON.stringify(text)} is not FACET:VALUE`, 'where');
    return [text.slice(0, colon), text.slice(colon + 1)];
  };
  const matches = (row: T, [name, wanted]: [string, string]): boolean => {
    const found = value(row, name);
    const values = Array.isArray(found) ? found : [found];
    return values.some((candidate) => candidate !== undefined && candidate !== null && (typeof candidate === 'object' ? JSON.stringify(candidate) : String(candidate)) === wanted);
  };
  const refines = params.getAll('refine').map((text) => facet(text, 'refine'));
  const excludes = params.getAll('exclude').map((text) => facet(text, 'exclude'));
  const kept = rows.filter((row) => {
    const view = filterRow(row);
    return (
      filters.every((filter) => filter(view)) &&
      refines.every((refine) => matches(row, refine)) &&
      !excludes.some((exclude) => matches(row, exclude))
    );
  });
  const orderBy = params.get('order_by');
  if (orderBy !== null && orderBy.trim() !== '') kept.sort(compareBy(parseOrderBy(orderBy, knownField), value));
  return kept;
}

function answerCatalog(context: ExploreContext, exchange: Exchange): void {
  const params = parameters(exchange, [...LISTING, 'limit', 'offset', 'include_links', 'include_app_metas']);
  if (params === undefined) return;
  const page = paging(exchange, params);
  if (page === undefined) return;
  if (!selectsEverything(params)) throw new OdsqlError('the simulated portal only answers select=* on the catalog', 'select');
  const rows = catalogRows(context, params);
  sendJson(exchange.res, { total_count: rows.length, results: rows.slice(page.offset, page.offset + page.limit).map((row) => row.json) }, context.quota.headers());
}

async function answerCatalogExport(context: ExploreContext, exchange: Exchange, fault: OdsFault | undefined): Promise<void> {
  const params = parameters(exchange, [...LISTING, 'limit', 'offset']);
  if (params === undefined) return;
  const format = exchange.params['format'];
  if (format !== 'json') {
    sendInvalidParameter(exchange.res, `Invalid value for format API parameter: the simulated portal exports the catalog as json only, not ${format}.`);
    return;
  }
  if (!selectsEverything(params)) throw new OdsqlError('the simulated portal only answers select=* on the catalog', 'select');
  const rows = catalogRows(context, params).slice(Number(params.get('offset') ?? 0));
  const limit = Number(params.get('limit') ?? -1);
  const shown = limit >= 0 ? rows.slice(0, limit) : rows;
  await streamExport(exchange, 'datasets', 'json', shown.map((row) => row.json), fault, context.quota.headers(), undefined);
}

function selectsEverything(params: URLSearchParams): boolean {
  const select = params.get('select');
  return select === null || select.trim() === '*';
}

function answerDataset(context: ExploreContext, exchange: Exchange): void {
  const request = datasetRequest(context, exchange, [...COMMON, 'select', 'include_links', 'include_app_metas']);
  if (request === undefined) return;
  const { params, dataset } = request;
  if (!selectsEverything(params)) throw new OdsqlError('the simulated portal only answers select=* on a dataset', 'select');
  sendJson(exchange.res, datasetJson(dataset), context.quota.headers());
}

// ---------------------------------------------------------------------------------------------
// Records and exports

/** Literals for a record's id and processing or arrival time, selectable and filterable (never shown otherwise). */
const RECORD_ID = 'recordid';
const RECORD_TIMESTAMP = 'record_timestamp';

function recordValue(record: StoredRecord, field: string): JsonValue | undefined {
  if (field === RECORD_ID) return record.id;
  if (field === RECORD_TIMESTAMP) return record.timestamp;
  return record.values[field];
}

/** A dataset's records after where/refine/exclude/order_by, and how to render one under the select. */
function selectedRecords(dataset: HostedDataset, params: URLSearchParams): { records: StoredRecord[]; render: (record: StoredRecord) => JsonValue } {
  const names = new Set(dataset.fields.map((field) => field.name));
  const knownField = (name: string) => names.has(name) || name === RECORD_ID || name === RECORD_TIMESTAMP;
  const textFields = dataset.fields.filter((field) => field.type === 'text').map((field) => field.name);
  const records = filterAndSort(
    [...dataset.records.values()],
    params,
    knownField,
    (record) => ({
      value: (field) => recordValue(record, field),
      searchText: () => textFields.map((name) => JSON.stringify(record.values[name] ?? '')).join(' '),
    }),
    recordValue,
  );
  const select: SelectItem[] = params.get('select') !== null ? parseSelect(params.get('select') as string, knownField) : [{ kind: 'all' }];
  const render = (record: StoredRecord): JsonValue => {
    const row: { [key: string]: JsonValue } = {};
    for (const item of select) {
      if (item.kind === 'all') {
        for (const field of dataset.fields) row[field.name] = record.values[field.name] ?? null;
      } else {
        row[item.as] = recordValue(record, item.field) ?? null;
      }
    }
    return row;
  };
  return { records, render };
}

/** The parameters and the dataset of a dataset's answer, or undefined once a 400 or 404 was sent. */
function datasetRequest(context: ExploreContext, exchange: Exchange, allowed: readonly string[]): { params: URLSearchParams; dataset: HostedDataset } | undefined {
  const params = parameters(exchange, allowed);
  if (params === undefined) return undefined;
  const id = exchange.params['dataset'] as string;
  const dataset = context.portal.find(id);
  // An unpublished dataset is gone from the Explore API (it still exists for the Automation API).
  if (dataset === undefined || !dataset.published) {
    sendDatasetNotFound(exchange.res, id);
    return undefined;
  }
  return { params, dataset };
}

function answerRecords(context: ExploreContext, exchange: Exchange): void {
  const request = datasetRequest(context, exchange, [...LISTING, 'limit', 'offset', 'include_links', 'include_app_metas']);
  if (request === undefined) return;
  const { params, dataset } = request;
  const page = paging(exchange, params);
  if (page === undefined) return;
  const { records, render } = selectedRecords(dataset, params);
  sendJson(exchange.res, { total_count: records.length, results: records.slice(page.offset, page.offset + page.limit).map(render) }, context.quota.headers());
}

const EXPORT_TYPES: Record<string, string> = { json: 'application/json; charset=utf-8', jsonl: 'application/jsonl; charset=utf-8' };

async function answerExport(context: ExploreContext, exchange: Exchange, fault: OdsFault | undefined): Promise<void> {
  const request = datasetRequest(context, exchange, [...LISTING, 'limit', 'use_labels', 'compressed', 'epsg']);
  if (request === undefined) return;
  const { params, dataset } = request;
  const id = dataset.id;
  const format = exchange.params['format'] as string;
  if (EXPORT_TYPES[format] === undefined) {
    sendInvalidParameter(exchange.res, `Invalid value for format API parameter: the simulated portal exports json and jsonl only, not ${format}.`);
    return;
  }
  if ((params.get('compressed') ?? 'false') !== 'false' || (params.get('use_labels') ?? 'false') !== 'false') {
    sendInvalidParameter(exchange.res, 'the simulated portal exports with compressed=false and use_labels=false only');
    return;
  }
  // The query is checked before anything is sent: a bad one is a 400 with a JSON body, never a partial file.
  const { records, render } = selectedRecords(dataset, params);
  const limit = Number(params.get('limit') ?? -1);
  const shown = limit >= 0 ? records.slice(0, limit) : records;
  const hookIndex = context.exportHooks.findIndex((hook) => hook.dataset === undefined || hook.dataset === id);
  const hook = hookIndex < 0 ? undefined : context.exportHooks.splice(hookIndex, 1)[0];
  await streamExport(exchange, id, format as 'json' | 'jsonl', shown.map(render), fault, context.quota.headers(), hook);
}

/** Bytes gathered before a write: large enough to be cheap, small enough to stream. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Sends rows as a JSON array or JSON lines, honouring backpressure. The rows are the content at
 * the time of the request; a hook may change the portal meanwhile. A `cutExport` fault stops in
 * the middle of a row and drops the connection.
 */
async function streamExport(
  exchange: Exchange,
  name: string,
  format: 'json' | 'jsonl',
  rows: readonly JsonValue[],
  fault: OdsFault | undefined,
  headers: Record<string, string>,
  hook: ExportHook | undefined,
): Promise<void> {
  const { res } = exchange;
  res.writeHead(200, {
    'content-type': EXPORT_TYPES[format] as string,
    'content-disposition': `attachment; filename="${name}.${format}"`,
    ...headers,
  });
  const cutAt = fault?.type === 'cutExport' ? (fault.afterRecords ?? Math.floor(rows.length / 2)) : undefined;
  const hookAt = hook === undefined ? undefined : (hook.afterRecords ?? Math.floor(rows.length / 2));
  let chunk = format === 'json' ? '[' : '';
  for (let index = 0; index <= rows.length; index += 1) {
    if (index === hookAt) hook?.action();
    if (index === cutAt) {
      const partial = index < rows.length ? JSON.stringify(rows[index]) : '';
      chunk += partial.slice(0, Math.max(1, Math.floor(partial.length / 2)));
      res.write(chunk, () => res.destroy());
      return;
    }
    if (index === rows.length) break;
    const text = JSON.stringify(rows[index]);
    chunk += format === 'json' ? (index === 0 ? text : `, ${text}`) : `${text}\n`;
    if (chunk.length >= CHUNK_CHARS) {
      const flushed = chunk;
      chunk = '';
      if (!(await write(res, flushed))) return;
    }
  }
  res.end(format === 'json' ? `${chunk}]` : chunk);
}

/** Writes and waits for room; false when the client has gone away. */
async function write(res: ServerResponse, text: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (!res.write(text)) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
  return !res.destroyed;
}
