import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listen } from '../listen.js';
import { streamLines } from './body-writer.js';
import { acceptsCsv20, chooseStructureFormat, type StructureFormat } from './content-negotiation.js';
import { dataLines, metadataLines } from './csv-response.js';
import { csvCell } from './csv-text.js';
import { DataSpace } from './data-space.js';
import type { HostedDataflow } from './hosted-dataflow.js';
import { FaultQueue, type NsiFault } from './faults.js';
import { parseKey } from './key-filter.js';
import { structureJson1, structureJson2, type StructureParts } from './structure-json.js';
import { escapeXml, structureXml21 } from './structure-xml.js';
import { parseUpdatedAfter, type UnencodedPlusBehaviour } from './updated-after.js';

/**
 * A .Stat-like NSI web service over real HTTP, for tests, benchmarks and `demo`. It serves the
 * data space's structures (SDMX-JSON 1.0/2.0, SDMX-ML 2.1), data and referential metadata in
 * SDMX-CSV 2.0, full or `updatedAfter` (docs/sdmx.md, "Queries"), with fault injection.
 *
 * Where the documentation leaves .Stat's behaviour open (docs/sdmx.md, "What the simulator decides"), the simulator decides so:
 * - `updatedAfter` is inclusive (changes at or after it); a replayed window is harmless.
 * - An answer with `updatedAfter` carries D rows first (Delete rows as uploaded, wildcards and `*`
 *   markers kept; observations emptied otherwise, by full key), then R rows with every current value
 *   of each changed observation and attribute record; settings choose `*` or `-` as the marker.
 * - A higher-level attribute is inside a delete's scope only when its attachment carries every
 *   dimension the row gives (a series delete leaves the series' groups alone).
 * - An unencoded `+` in `updatedAfter` gets 400 (or, as configured, a silent misreading).
 * - `references=children` also returns the MSD the DSD links to (a real NSI may need a second query).
 */

export interface NsiSettings {
  /** What an answer with no rows gets: 404 NoRecordsFound (NSI, v1) or 204 (v2's preference). */
  emptyStatus: 404 | 204;
  /** Structure formats offered; a request for any other gets 406. */
  structureFormats: StructureFormat[];
  json2TimeDimension: 'timeDimension' | 'timeDimensions';
  unencodedPlus: UnencodedPlusBehaviour;
  /** The service's time zone, used for an `updatedAfter` without offset. */
  localOffsetMinutes: number;
  attributesOnObservationRows: boolean;
  deleteMarker: '*' | '-';
  fullLoadAction: 'I' | 'omit';
  structureLabel: 'dataflow' | 'DATAFLOW';
  lineEnding: '\n' | '\r\n';
  /** zlib level when the client accepts gzip; fast by default so the simulator is not the bottleneck. */
  gzipLevel: number;
  /** Answer 500 `languageTag1` without an explicit Accept-Language, as the OECD gateway does. */
  requireAcceptLanguage: boolean;
}

export const DEFAULT_SETTINGS: Readonly<NsiSettings> = {
  emptyStatus: 404,
  structureFormats: ['json1', 'json2', 'xml21'],
  json2TimeDimension: 'timeDimension',
  unencodedPlus: 'reject',
  localOffsetMinutes: 0,
  attributesOnObservationRows: false,
  deleteMarker: '*',
  fullLoadAction: 'omit',
  structureLabel: 'dataflow',
  lineEnding: '\n',
  gzipLevel: 1,
  requireAcceptLanguage: false,
};

export interface NsiSimulatorOptions {
  readonly port?: number;
  readonly host?: string;
  readonly clock?: () => Date;
  readonly settings?: Partial<NsiSettings>;
  /** Serve an existing data space (e.g. one prepared before the server starts). */
  readonly dataSpace?: DataSpace;
}

export interface RecordedRequest {
  readonly method: string;
  /** Exactly as received (percent-encoding intact). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly status: number;
}

export interface NsiSimulator {
  /** The NSI `rest` root, e.g. `http://127.0.0.1:41234/rest`. */
  readonly url: string;
  readonly dataSpace: DataSpace;
  /** Change freely between requests. */
  readonly settings: NsiSettings;
  readonly faults: FaultQueue;
  /** The last requests (oldest first, at most 1000). */
  readonly requests: readonly RecordedRequest[];
  close(): Promise<void>;
}

const MAX_RECORDED = 1000;

export async function startNsiSimulator(options: NsiSimulatorOptions = {}): Promise<NsiSimulator> {
  const dataSpace = options.dataSpace ?? new DataSpace(options.clock);
  const settings: NsiSettings = { ...DEFAULT_SETTINGS, structureFormats: [...DEFAULT_SETTINGS.structureFormats], ...options.settings };
  const faults = new FaultQueue();
  const requests: RecordedRequest[] = [];

  const server = createServer((req, res) => {
    res.on('finish', () => record(req, res.statusCode));
    res.on('close', () => {
      if (!res.writableFinished) record(req, res.statusCode);
    });
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, errorXml(500, error instanceof Error ? error.message : String(error)));
      else res.destroy();
    });
  });
  const recorded = new WeakSet<IncomingMessage>();
  const record = (req: IncomingMessage, status: number): void => {
    if (recorded.has(req)) return;
    recorded.add(req);
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, status });
    if (requests.length > MAX_RECORDED) requests.shift();
  };

  const send = (res: ServerResponse, status: number, body: string, type = 'application/xml; charset=utf-8', extra: Record<string, string> = {}): void => {
    res.writeHead(status, { 'Content-Type': type, Date: dataSpace.clock.now().toUTCString(), ...extra });
    res.end(status === 204 || status === 304 ? undefined : body);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, errorXml(405, `method ${req.method} is not allowed`), undefined, { Allow: 'GET, HEAD' });
      return;
    }
    const segments = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
    if (segments[0] !== 'rest') {
      send(res, 404, errorXml(404, `not an NSI path: ${url.pathname} (the service root is /rest)`));
      return;
    }
    const path = segments.slice(1);
    if (settings.requireAcceptLanguage) {
      const language = req.headers['accept-language'];
      if (!language || language.trim() === '*') {
        send(res, 500, 'languageTag1', 'text/plain; charset=utf-8');
        return;
      }
    }
    const v2 = path[0] === 'v2';
    const route = v2 ? path.slice(1) : path;
    if (route[0] === 'data') {
      await handleData(req, res, url, route.slice(1), v2 ? 'v2' : 'v1');
      return;
    }
    const structurePath = route[0] === 'structure' ? route.slice(1) : route;
    const flavour = v2 || route[0] === 'structure' ? 'v2' : 'v1';
    if (['dataflow', 'datastructure', 'metadatastructure'].includes(structurePath[0] ?? '') && structurePath.length >= 4) {
      handleStructure(req, res, url, structurePath, flavour);
      return;
    }
    send(res, 404, errorXml(404, `no such resource: ${url.pathname}`));
  }

  function handleStructure(req: IncomingMessage, res: ServerResponse, url: URL, path: string[], flavour: 'v1' | 'v2'): void {
    const fault = faults.take('structure');
    if (fault && answerFault(res, fault)) return;
    const [resource, agency = '', id = '', version = ''] = path;
    const flow = dataSpace
      .dataflows()
      .find((f) => {
        const s = f.structure;
        const target = resource === 'dataflow' ? s : resource === 'datastructure' ? s.dsd : s.msd;
        return target !== undefined && target.agency === agency && target.id === id && target.version === version;
      });
    if (!flow) {
      send(res, 404, errorXml(100, `No ${resource} ${agency}:${id}(${version}) found`));
      return;
    }
    const format = chooseStructureFormat(req.headers.accept, settings.structureFormats, flavour);
    if (!format || (format !== 'json2' && flow.structure.measures.length > 1)) {
      send(res, 406, errorXml(406, `Not acceptable: ${req.headers.accept ?? ''} (offered: ${settings.structureFormats.join(', ')})`));
      return;
    }
    const references = url.searchParams.get('references') ?? 'none';
    const withChildren = ['children', 'descendants', 'all', 'datastructure'].includes(references);
    const parts: StructureParts = {
      dataflow: resource === 'dataflow',
      dataStructure: resource === 'datastructure' || (resource === 'dataflow' && withChildren),
      metadataStructure: resource === 'metadatastructure' || (resource !== 'metadatastructure' && withChildren && references !== 'datastructure'),
    };
    const now = dataSpace.clock.now();
    if (format === 'xml21') {
      send(res, 200, structureXml21(flow.structure, parts, now), 'application/vnd.sdmx.structure+xml; version=2.1; charset=utf-8');
    } else if (format === 'json1') {
      send(res, 200, structureJson1(flow.structure, parts, now), 'application/vnd.sdmx.structure+json; version=1.0; charset=utf-8');
    } else {
      const body = structureJson2(flow.structure, parts, now, { timeDimension: settings.json2TimeDimension });
      send(res, 200, body, 'application/vnd.sdmx.structure+json; version=2.0.0; charset=utf-8');
    }
  }

  async function handleData(req: IncomingMessage, res: ServerResponse, url: URL, path: string[], flavour: 'v1' | 'v2'): Promise<void> {
    let flow: HostedDataflow | undefined;
    let key: string;
    if (flavour === 'v1') {
      const parts = (path[0] ?? '').split(',');
      const [agency, id, version] = parts.length === 3 ? parts : ['', '', ''];
      flow = dataSpace.find(agency ?? '', id ?? '', version ?? '');
      key = path[1] ?? 'all';
    } else {
      if (path[0] !== 'dataflow') {
        send(res, 501, errorXml(501, `only the dataflow context is implemented, not ${path[0] ?? ''}`));
        return;
      }
      flow = dataSpace.find(path[1] ?? '', path[2] ?? '', path[3] ?? '');
      key = path[4] ?? '*';
    }
    if (!flow) {
      send(res, 404, errorXml(100, `Could not find Dataflow and/or DSD related with this data request: ${url.pathname}`));
      return;
    }
    const notAcceptable = acceptsCsv20(req.headers.accept);
    if (notAcceptable) {
      send(res, 406, errorXml(406, notAcceptable));
      return;
    }
    const filter = parseKey(flow.structure, key, flavour);
    if (typeof filter === 'string') {
      send(res, 400, errorXml(140, filter));
      return;
    }
    let updatedAfter: number | undefined;
    const rawUpdatedAfter = url.searchParams.get('updatedAfter');
    if (rawUpdatedAfter !== null) {
      const parsed = parseUpdatedAfter(rawUpdatedAfter, settings.localOffsetMinutes, settings.unencodedPlus);
      if (!parsed.ok) {
        send(res, 400, errorXml(140, parsed.message));
        return;
      }
      updatedAfter = parsed.at;
    }
    const attributes = url.searchParams.get('attributes') ?? 'dsd';
    const measures = url.searchParams.get('measures') ?? 'all';
    const metadata = attributes === 'msd';
    if (metadata && (flavour !== 'v2' || measures !== 'none')) {
      send(res, 400, errorXml(140, 'referential metadata is served by the v2 data URL with attributes=msd&measures=none, never with data'));
      return;
    }
    if (!metadata && (attributes !== 'dsd' || measures !== 'all')) {
      send(res, 501, errorXml(501, `attributes=${attributes}&measures=${measures} is not implemented by this simulator`));
      return;
    }
    const fault = faults.take(metadata ? 'metadata' : 'data');
    if (fault && answerFault(res, fault)) return;

    // An unknown action needs an ACTION column to be written in, which a full answer may lack.
    const unknownAction = fault?.type === 'badRow' && fault.kind === 'unknownAction';
    const answer = {
      updatedAfter,
      filter,
      attributesOnObservationRows: settings.attributesOnObservationRows,
      deleteMarker: settings.deleteMarker,
      fullLoadAction: unknownAction ? ('I' as const) : settings.fullLoadAction,
      structureLabel: settings.structureLabel,
      lineEnding: settings.lineEnding,
    };
    const lines = metadata ? metadataLines(flow, answer) : dataLines(flow, answer);
    const header = lines.next();
    const first = lines.next();
    if (header.done || first.done) {
      if (settings.emptyStatus === 204) send(res, 204, '');
      else send(res, 404, errorXml(100, 'NoRecordsFound'));
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    res.writeHead(200, {
      'Content-Type': 'application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8',
      'Content-Language': 'en',
      Vary: 'Accept, Accept-Encoding',
      Date: dataSpace.clock.now().toUTCString(),
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const columns = metadata
      ? 3 + flow.structure.dimensions.length + flow.structure.metadataAttributes.length
      : 3 + flow.structure.dataColumns.length;
    await streamLines(res, header.value, prepend(first.value, lines), {
      gzipLevel: gzip ? settings.gzipLevel : undefined,
      fault,
      columns,
      rowStart: `${settings.structureLabel},${csvCell(flow.structure.ref)}`,
      lineEnding: settings.lineEnding,
    });
  }

  /** Faults that replace the whole answer; body faults are left to the body writer. */
  function answerFault(res: ServerResponse, fault: NsiFault): boolean {
    if (fault.type === 'status') {
      const extra: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) };
      send(res, fault.status, fault.body ?? errorXml(fault.status, `simulated failure ${fault.status}`), undefined, extra);
      return true;
    }
    if (fault.type === 'html') {
      const page = '<!DOCTYPE html><html><head><title>Service maintenance</title></head><body><h1>We will be back soon</h1></body></html>';
      send(res, 200, page, 'text/html; charset=utf-8');
      return true;
    }
    return false;
  }

  const { origin } = await listen(server, options.port, options.host);

  return {
    url: `${origin}/rest`,
    dataSpace,
    settings,
    faults,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function* prepend<T>(first: T, rest: Iterator<T>): Generator<T> {
  yield first;
  for (let step = rest.next(); !step.done; step = rest.next()) yield step.value;
}

/** An SDMX-ML 2.1 error message, as the NSI sends for failures (code per REST1 §4.7). */
function errorXml(code: number, text: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    '<message:Error xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" xmlns:common="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">' +
    `<message:ErrorMessage code="${code}"><common:Text xml:lang="en">${escapeXml(text)}</common:Text></message:ErrorMessage></message:Error>`
  );
}

export type { NsiFault };
export { DataSpace };
