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
 * Reads a dataflow and its DSD from an SDMX-JSON structure message, 1.0 or 2.0 (docs/sdmx.md,
 * "Structure"): `timeDimension` or `timeDimensions`, `primaryMeasure` or `measures[]`, and
 * every `attributeRelationship` form. Positions are ignored (0- or 1-based in the wild): array order is DSD order.
 */
export function parseStructureJson(message: unknown, dataflow: ArtefactRef | undefined): DataStructure {
  const data = record(record(message)?.data);
  if (data === undefined) throw new StructureError('the structure message has no "data" object');

  let flow: ArtefactRef | undefined;
  let dsdRef: ArtefactRef | undefined;
  const flows = list(data.dataflows).map(record).filter((item) => item !== undefined);
  if (dataflow !== undefined) {
    const found = flows.find((item) => refMatches(item, dataflow));
    if (found === undefined) {
      if (flows.length > 0) {
        throw new StructureError(`the structure message does not describe dataflow ${formatArtefact(dataflow)}`);
      }
    } else {
      flow = artefactOf(found) ?? dataflow;
      dsdRef = structureRefOf(found.structure);
    }
  }

  const structures = list(data.dataStructures).map(record).filter((item) => item !== undefined);
  const dsd =
    dsdRef === undefined
      ? structures.length === 1
        ? structures[0]
        : undefined
      : structures.find((item) => refMatches(item, dsdRef));
  if (dsd === undefined) {
    const wanted = dsdRef === undefined ? 'its data structure' : `data structure ${formatArtefact(dsdRef)}`;
    throw new StructureError(`the structure message does not include ${wanted} (query with references=children)`);
  }
  const dsdId = artefactOf(dsd);
  if (dsdId === undefined) throw new StructureError('the data structure in the structure message has no id/agencyID/version');
  const where = `data structure ${formatArtefact(dsdId)}`;

  const components = record(dsd.dataStructureComponents);
  if (components === undefined) throw new StructureError(`${where} has no dataStructureComponents`);
  const dimensionList = record(components.dimensionList);
  const timeEntries = [...list(dimensionList?.timeDimensions), dimensionList?.timeDimension].map(record).filter((item) => item !== undefined);
  const dimensionEntries = list(dimensionList?.dimensions).map(record).filter((item) => item !== undefined);
  // Some writers list the time dimension with the others; it still goes last.
  timeEntries.push(...dimensionEntries.filter((item) => item.type === 'TimeDimension'));
  const dimensions = dimensionEntries.filter((item) => item.type !== 'TimeDimension').map((item) => idOf(item, `${where}: a dimension`));
  const timeDimension = timeEntries.length === 0 ? undefined : (text(timeEntries[0]?.id) ?? 'TIME_PERIOD');

  const measureList = record(components.measureList);
  const measures = [
    ...list(measureList?.measures).map((item) => idOf(record(item), `${where}: a measure`)),
    ...(record(measureList?.primaryMeasure) === undefined ? [] : [idOf(record(measureList?.primaryMeasure), `${where}: the primary measure`)]),
  ];

  const groups: Record<string, string[]> = {};
  for (const item of list(components.groups)) {
    const group = record(item);
    const id = idOf(group, `${where}: a group`);
    groups[id] = list(group?.groupDimensions).map((dimension) => text(dimension) ?? text(record(dimension)?.id) ?? '');
  }

  const attributes = list(record(components.attributeList)?.attributes).map((item): RawAttribute => {
    const attribute = record(item);
    const id = idOf(attribute, `${where}: an attribute`);
    return { id, attachment: attachmentOf(attribute?.attributeRelationship, `${where}: attribute ${id}`) };
  });

  const metadataStructure = metadataStructureOf(dsd);
  const msds = list(data.metadataStructures).map(record).filter((item) => item !== undefined);
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

/** Reads the metadata attribute ids of an MSD from an SDMX-JSON structure message (2.0 or 1.0 layout). */
export function parseMetadataStructureJson(message: unknown, msdRef: ArtefactRef): string[] {
  const data = record(record(message)?.data);
  const msds = list(data?.metadataStructures).map(record).filter((item) => item !== undefined);
  const msd = msds.find((item) => refMatches(item, msdRef)) ?? (msds.length === 1 ? msds[0] : undefined);
  if (msd === undefined) throw new StructureError(`the structure message does not include metadata structure ${formatArtefact(msdRef)}`);
  return metadataAttributesOf(msd);
}

function attachmentOf(relationship: unknown, where: string): RawAttachment {
  const relation = record(relationship);
  // An absent or empty relationship (.Stat's NSI JSON 1.0 writes `{}`) is read as dataset level.
  if (relation === undefined || Object.keys(relation).length === 0) return { kind: 'dataflow' };
  if ('dataflow' in relation || 'none' in relation) return { kind: 'dataflow' };
  if ('observation' in relation || 'primaryMeasure' in relation) return { kind: 'observation' };
  if (Array.isArray(relation.dimensions)) {
    return { kind: 'dimensions', dimensions: relation.dimensions.map((value) => text(value) ?? '') };
  }
  const group = text(relation.group) ?? text(list(relation.attachmentGroups)[0]);
  if (group !== undefined) return { kind: 'group', group };
  throw new StructureError(`${where} has an attributeRelationship this client does not know: ${JSON.stringify(relation).slice(0, 200)}`);
}

function metadataStructureOf(dsd: Record<string, unknown>): ArtefactRef | undefined {
  for (const item of list(dsd.annotations)) {
    const annotation = record(item);
    if (text(annotation?.type)?.toUpperCase() !== 'METADATA') continue;
    const urn = text(annotation?.title) ?? text(annotation?.text) ?? text(record(annotation?.texts)?.en);
    const ref = urn === undefined ? undefined : parseUrn(urn);
    if (ref !== undefined) return ref;
  }
  return undefined;
}

function metadataAttributesOf(msd: Record<string, unknown>): string[] {
  const components = record(msd.metadataStructureComponents);
  const roots = [
    ...list(record(components?.metadataAttributeList)?.metadataAttributes),
    ...list(components?.reportStructures).flatMap((report) => list(record(report)?.metadataAttributes)),
  ];
  const ids: string[] = [];
  const walk = (items: readonly unknown[], prefix: string): void => {
    for (const item of items) {
      const attribute = record(item);
      const id = text(attribute?.id);
      if (id === undefined) continue;
      ids.push(prefix + id);
      walk(list(attribute?.metadataAttributes), `${prefix}${id}.`);
    }
  };
  walk(roots, '');
  return ids;
}

function refMatches(item: Record<string, unknown>, ref: ArtefactRef): boolean {
  const own = artefactOf(item);
  return own !== undefined && sameArtefact(own, ref);
}

function artefactOf(item: Record<string, unknown>): ArtefactRef | undefined {
  const id = text(item.id);
  const agency = text(item.agencyID);
  const version = text(item.version);
  if (id !== undefined && agency !== undefined && version !== undefined) return { agency, id, version };
  const urn = text(item.urn);
  return urn === undefined ? undefined : parseUrn(urn);
}

function structureRefOf(value: unknown): ArtefactRef | undefined {
  const urn = text(value);
  if (urn !== undefined) return parseUrn(urn);
  const ref = record(value);
  return ref === undefined ? undefined : artefactOf(ref);
}

function idOf(item: Record<string, unknown> | undefined, what: string): string {
  const id = text(item?.id);
  if (id === undefined) throw new StructureError(`${what} has no id`);
  return id;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
