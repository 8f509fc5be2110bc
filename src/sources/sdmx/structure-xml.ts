import { XMLParser } from 'fast-xml-parser';
import {
  buildStructure,
  formatArtefact,
  parseUrn,
  sameArtefact,
  StructureError,
  type ArtefactRef,
  type DataStructure,
  type RawAttachment,
  type RawAttribute,
} from './structure.js';

/**
 * Reads a dataflow and its DSD from an SDMX-ML 2.1 structure message, for services that refuse
 * JSON structure queries (406). Same result as parseStructureJson.
 */
export function parseStructureXml(xml: string, dataflow: ArtefactRef | undefined): DataStructure {
  const root = record(parser.parse(xml));
  const structures = record(record(root?.Structure)?.Structures);
  if (structures === undefined) {
    throw new StructureError(`the response is not an SDMX-ML structure message: ${JSON.stringify(xml.slice(0, 120))}`);
  }

  let flow: ArtefactRef | undefined;
  let dsdRef: ArtefactRef | undefined;
  const flows = list(record(structures.Dataflows)?.Dataflow);
  if (dataflow !== undefined) {
    const found = flows.find((item) => refMatches(item, dataflow));
    if (found === undefined) {
      if (flows.length > 0) {
        throw new StructureError(`the structure message does not describe dataflow ${formatArtefact(dataflow)}`);
      }
    } else {
      flow = artefactOf(found) ?? dataflow;
      dsdRef = referenceOf(found.Structure);
    }
  }

  const dsds = list(record(structures.DataStructures)?.DataStructure);
  const dsd = dsdRef === undefined ? (dsds.length === 1 ? dsds[0] : undefined) : dsds.find((item) => refMatches(item, dsdRef));
  if (dsd === undefined) {
    const wanted = dsdRef === undefined ? 'its data structure' : `data structure ${formatArtefact(dsdRef)}`;
    throw new StructureError(`the structure message does not include ${wanted} (query with references=children)`);
  }
  const dsdId = artefactOf(dsd);
  if (dsdId === undefined) throw new StructureError('the data structure in the structure message has no id/agencyID/version');
  const where = `data structure ${formatArtefact(dsdId)}`;

  const components = record(dsd.DataStructureComponents);
  const dimensionList = record(components?.DimensionList);
  // Dimension and MeasureDimension come back as separate lists; their positions restore DSD order.
  const keyed = [...list(dimensionList?.Dimension), ...list(dimensionList?.MeasureDimension)].map((item, index) => ({
    id: idOf(item, `${where}: a dimension`),
    position: Number(attr(item, 'position') ?? Number.NaN),
    index,
  }));
  if (keyed.every((item) => Number.isFinite(item.position))) keyed.sort((a, b) => a.position - b.position);
  const dimensions = keyed.map((item) => item.id);
  const time = list(dimensionList?.TimeDimension)[0];
  const timeDimension = time === undefined ? undefined : idOf(time, `${where}: the time dimension`);

  const measureList = record(components?.MeasureList);
  const measures = [...list(measureList?.PrimaryMeasure), ...list(measureList?.Measure)].map((item) => idOf(item, `${where}: a measure`));

  const groups: Record<string, string[]> = {};
  for (const group of list(components?.Group)) {
    const id = idOf(group, `${where}: a group`);
    groups[id] = list(group.GroupDimension).map((member) => refId(record(member.DimensionReference)) ?? '');
  }

  const attributes = list(record(components?.AttributeList)?.Attribute).map((item): RawAttribute => {
    const id = idOf(item, `${where}: an attribute`);
    return { id, attachment: attachmentOf(record(item.AttributeRelationship), `${where}: attribute ${id}`) };
  });

  const metadataStructure = metadataStructureOf(dsd);
  const msds = list(record(structures.MetadataStructures)?.MetadataStructure);
  const msd =
    metadataStructure === undefined
      ? undefined
      : msds.find((item) => refMatches(item, metadataStructure)) ?? (msds.length === 1 ? msds[0] : undefined);

  return buildStructure({
    dataflow: flow,
    dsd: dsdId,
    dimensions,
    timeDimension,
    measures,
    attributes,
    groups,
    metadataStructure,
    metadataAttributes: msd === undefined ? [] : metadataAttributesOf(msd),
  });
}

/** Reads the metadata attribute ids of an MSD from an SDMX-ML 2.1 structure message. */
export function parseMetadataStructureXml(xml: string, msdRef: ArtefactRef): string[] {
  const structures = record(record(record(parser.parse(xml))?.Structure)?.Structures);
  const msds = list(record(structures?.MetadataStructures)?.MetadataStructure);
  const msd = msds.find((item) => refMatches(item, msdRef)) ?? (msds.length === 1 ? msds[0] : undefined);
  if (msd === undefined) throw new StructureError(`the structure message does not include metadata structure ${formatArtefact(msdRef)}`);
  return metadataAttributesOf(msd);
}

const REPEATED = new Set([
  'Dataflow',
  'DataStructure',
  'MetadataStructure',
  'Annotation',
  'Dimension',
  'MeasureDimension',
  'TimeDimension',
  'Group',
  'GroupDimension',
  'Attribute',
  'AttachmentGroup',
  'PrimaryMeasure',
  'Measure',
  'ReportStructure',
  'MetadataAttribute',
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => REPEATED.has(name),
});

type Node = Record<string, unknown>;

function attachmentOf(relation: Node | undefined, where: string): RawAttachment {
  if (relation === undefined || 'None' in relation) return { kind: 'dataflow' };
  if ('PrimaryMeasure' in relation || 'Observation' in relation) return { kind: 'observation' };
  const dimensions = list(relation.Dimension).map((item) => refId(item) ?? '');
  if (dimensions.length > 0) return { kind: 'dimensions', dimensions };
  const group = refId(list(relation.Group)[0]) ?? refId(list(relation.AttachmentGroup)[0]);
  if (group !== undefined) return { kind: 'group', group };
  throw new StructureError(`${where} has an AttributeRelationship this client does not know: ${Object.keys(relation).join(', ')}`);
}

function metadataStructureOf(dsd: Node): ArtefactRef | undefined {
  for (const annotation of list(record(dsd.Annotations)?.Annotation)) {
    if (textOf(annotation.AnnotationType)?.toUpperCase() !== 'METADATA') continue;
    const urn = textOf(annotation.AnnotationTitle);
    const ref = urn === undefined ? undefined : parseUrn(urn);
    if (ref !== undefined) return ref;
  }
  return undefined;
}

function metadataAttributesOf(msd: Node): string[] {
  const ids: string[] = [];
  const walk = (items: readonly Node[], prefix: string): void => {
    for (const item of items) {
      const id = attr(item, 'id');
      if (id === undefined) continue;
      ids.push(prefix + id);
      walk(list(item.MetadataAttribute), `${prefix}${id}.`);
    }
  };
  for (const report of list(record(msd.MetadataStructureComponents)?.ReportStructure)) walk(list(report.MetadataAttribute), '');
  return ids;
}

/** `<Ref id="X" agencyID=".." version=".."/>` or a `<URN>` child. */
function referenceOf(value: unknown): ArtefactRef | undefined {
  const node = record(value);
  const ref = record(node?.Ref);
  if (ref !== undefined) {
    const id = attr(ref, 'id');
    const agency = attr(ref, 'agencyID');
    const version = attr(ref, 'version');
    if (id !== undefined && agency !== undefined && version !== undefined) return { agency, id, version };
  }
  const urn = textOf(node?.URN);
  return urn === undefined ? undefined : parseUrn(urn);
}

function refId(node: Node | undefined): string | undefined {
  return attr(record(node?.Ref), 'id');
}

function refMatches(item: Node, ref: ArtefactRef): boolean {
  const own = artefactOf(item);
  return own !== undefined && sameArtefact(own, ref);
}

function artefactOf(item: Node): ArtefactRef | undefined {
  const id = attr(item, 'id');
  const agency = attr(item, 'agencyID');
  const version = attr(item, 'version') ?? '1.0';
  if (id !== undefined && agency !== undefined) return { agency, id, version };
  const urn = attr(item, 'urn');
  return urn === undefined ? undefined : parseUrn(urn);
}

function idOf(item: Node | undefined, what: string): string {
  const id = attr(item, 'id');
  if (id === undefined) throw new StructureError(`${what} has no id`);
  return id;
}

function attr(node: Node | undefined, name: string): string | undefined {
  const value = node?.[`@${name}`];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() || undefined;
  const node = record(value);
  const inner = node?.['#text'];
  return typeof inner === 'string' ? inner.trim() || undefined : undefined;
}

function record(value: unknown): Node | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Node) : undefined;
}

function list(value: unknown): readonly Node[] {
  if (Array.isArray(value)) return value.map(record).filter((item) => item !== undefined);
  const single = record(value);
  return single === undefined ? [] : [single];
}
