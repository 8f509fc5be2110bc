import type { HttpClient, HttpResponse, ResponseLimits } from '../../http/client.js';
import { parseMetadataStructureJson, parseStructureJson } from './structure-json.js';
import { parseMetadataStructureXml, parseStructureXml } from './structure-xml.js';
import { StructureError, type ArtefactRef, type DataStructure } from './structure.js';

export type StructureFormat = 'json' | 'xml' | 'auto';

const ACCEPT_JSON = 'application/vnd.sdmx.structure+json;version=2.0.0, application/vnd.sdmx.structure+json;version=1.0.0;q=0.9';
const ACCEPT_XML = 'application/vnd.sdmx.structure+xml;version=2.1';

export interface FetchedStructure {
  readonly structure: DataStructure;
  /** The server's clock from the answer's Date header: the watermark is taken from it. */
  readonly serverDate: Date | undefined;
}

export interface StructureFetchOptions {
  readonly http: HttpClient;
  /** The NSI `rest` root, without a trailing slash. */
  readonly endpoint: string;
  readonly format: StructureFormat;
  readonly signal: AbortSignal;
  /** Also read the metadata attributes of the MSD the DSD links to (fetched on its own if absent). */
  readonly withMetadata: boolean;
  /** Bounds on each answer; a structure is read whole, so `documentBytes` is the one that counts. */
  readonly limits?: ResponseLimits;
}

/**
 * Fetches a dataflow with its DSD (`references=children`, docs/sdmx.md). JSON is asked first; with
 * `auto`, a 406 (some deployments offer no JSON structure format) falls back to SDMX-ML 2.1.
 */
export async function fetchStructure(dataflow: ArtefactRef, options: StructureFetchOptions): Promise<FetchedStructure> {
  const path = `dataflow/${encodeURIComponent(dataflow.agency)}/${encodeURIComponent(dataflow.id)}/${encodeURIComponent(dataflow.version)}?references=children`;
  const response = await negotiate(`${options.endpoint}/${path}`, options);
  let structure = await parse(response, (body, xml) => (xml ? parseStructureXml(body, dataflow) : parseStructureJson(JSON.parse(body), dataflow)));
  if (options.withMetadata && structure.metadataStructure !== undefined && structure.metadataAttributes.length === 0) {
    const msd = structure.metadataStructure;
    const msdPath = `metadatastructure/${encodeURIComponent(msd.agency)}/${encodeURIComponent(msd.id)}/${encodeURIComponent(msd.version)}`;
    const msdResponse = await negotiate(`${options.endpoint}/${msdPath}`, options);
    const metadataAttributes = await parse(msdResponse, (body, xml) =>
      xml ? parseMetadataStructureXml(body, msd) : parseMetadataStructureJson(JSON.parse(body), msd),
    );
    structure = { ...structure, metadataAttributes };
  }
  // Some services answer with the DSD alone; the rows still name the dataflow that was asked for.
  if (structure.dataflow === undefined) structure = { ...structure, dataflow };
  return { structure, serverDate: response.serverDate };
}

async function negotiate(url: string, options: StructureFetchOptions): Promise<HttpResponse> {
  const headers = { 'Accept-Language': 'en' };
  const common = { signal: options.signal, ...(options.limits === undefined ? {} : { limits: options.limits }) };
  if (options.format === 'xml') return options.http.request(url, { headers: { ...headers, Accept: ACCEPT_XML }, ...common });
  const json = await options.http.request(url, {
    headers: { ...headers, Accept: ACCEPT_JSON },
    ...common,
    acceptStatus: options.format === 'auto' ? [406] : [],
  });
  if (json.status !== 406) return json;
  await json.dump();
  return options.http.request(url, { headers: { ...headers, Accept: ACCEPT_XML }, ...common });
}

async function parse<T>(response: HttpResponse, read: (body: string, xml: boolean) => T): Promise<T> {
  const type = (response.headers['content-type'] ?? '').toLowerCase();
  const body = await response.text();
  const xml = type.includes('xml') || (!type.includes('json') && body.trimStart().startsWith('<'));
  if (type.includes('html') || /^\s*<!doctype html|^\s*<html/i.test(body)) {
    throw new StructureError(`${response.url} answered an HTML page instead of a structure message: ${JSON.stringify(body.slice(0, 120))}`);
  }
  try {
    return read(body, xml);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new StructureError(`${response.url} answered something that is not a JSON structure message (${error.message}): ${JSON.stringify(body.slice(0, 120))}`);
    }
    throw error;
  }
}
