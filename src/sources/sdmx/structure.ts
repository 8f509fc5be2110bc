/**
 * What the client needs to know of a dataflow's structure (docs/sdmx.md, "Structure"): its dimensions
 * in DSD order with the time dimension last, its measures, its attributes with the level they are
 * attached at, and the metadata attributes of the linked MSD. Parsed from SDMX-JSON
 * (structure-json.ts) or SDMX-ML 2.1 (structure-xml.ts); nothing here depends on the format.
 */

export interface ArtefactRef {
  readonly agency: string;
  readonly id: string;
  readonly version: string;
}

/**
 * Where an attribute's values live. `dimensions` covers groups, series and any other partial key:
 * the value belongs to a combination of those dimensions (listed in DSD order).
 */
export type Attachment =
  | { readonly level: 'dataflow' }
  | { readonly level: 'dimensions'; readonly dimensions: readonly string[]; readonly group?: string }
  | { readonly level: 'observation' };

export interface AttributeDef {
  readonly id: string;
  readonly attachment: Attachment;
}

export interface DataStructure {
  readonly dataflow: ArtefactRef | undefined;
  readonly dsd: ArtefactRef;
  /** Every dimension in DSD order, the time dimension (if any) last. */
  readonly dimensions: readonly string[];
  readonly timeDimension: string | undefined;
  readonly measures: readonly string[];
  readonly attributes: readonly AttributeDef[];
  /** Group id → its dimensions in DSD order. */
  readonly groups: Readonly<Record<string, readonly string[]>>;
  /** The MSD the DSD links to through its `METADATA` annotation, if any. */
  readonly metadataStructure: ArtefactRef | undefined;
  /** Metadata attribute ids of that MSD (nested ones dotted: `PARENT.CHILD`), when it was read. */
  readonly metadataAttributes: readonly string[];
}

export class StructureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StructureError';
  }
}

/** The raw facts a parser extracts, before they are checked and normalised. */
export interface RawStructure {
  readonly dataflow: ArtefactRef | undefined;
  readonly dsd: ArtefactRef;
  readonly dimensions: readonly string[];
  readonly timeDimension: string | undefined;
  readonly measures: readonly string[];
  readonly attributes: readonly RawAttribute[];
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly metadataStructure: ArtefactRef | undefined;
  readonly metadataAttributes: readonly string[];
}

export type RawAttachment =
  | { readonly kind: 'dataflow' }
  | { readonly kind: 'observation' }
  | { readonly kind: 'dimensions'; readonly dimensions: readonly string[] }
  | { readonly kind: 'group'; readonly group: string };

export interface RawAttribute {
  readonly id: string;
  readonly attachment: RawAttachment;
}

/**
 * Checks references and normalises attachments: a group becomes its dimensions, a dimension set
 * covering every dimension (time included) is the observation level, dimension lists follow DSD order.
 */
export function buildStructure(raw: RawStructure): DataStructure {
  const where = `data structure ${formatArtefact(raw.dsd)}`;
  const dimensions = raw.timeDimension === undefined ? [...raw.dimensions] : [...raw.dimensions, raw.timeDimension];
  if (dimensions.length === 0) throw new StructureError(`${where} has no dimensions`);
  const ids = new Set<string>();
  for (const id of [...dimensions, ...raw.measures, ...raw.attributes.map((attribute) => attribute.id)]) {
    if (ids.has(id)) throw new StructureError(`${where} declares component ${id} twice`);
    ids.add(id);
  }
  const order = new Map(dimensions.map((id, index) => [id, index]));
  const inDsdOrder = (list: readonly string[], what: string): string[] => {
    for (const id of list) {
      if (!order.has(id)) throw new StructureError(`${where}: ${what} refers to unknown dimension ${id}`);
    }
    return [...new Set(list)].sort((a, b) => (order.get(a) as number) - (order.get(b) as number));
  };
  const groups: Record<string, readonly string[]> = {};
  for (const [group, list] of Object.entries(raw.groups)) groups[group] = inDsdOrder(list, `group ${group}`);

  const attributes = raw.attributes.map((attribute): AttributeDef => {
    const { attachment } = attribute;
    if (attachment.kind === 'dataflow') return { id: attribute.id, attachment: { level: 'dataflow' } };
    if (attachment.kind === 'observation') return { id: attribute.id, attachment: { level: 'observation' } };
    let list: string[];
    let group: string | undefined;
    if (attachment.kind === 'group') {
      const members = groups[attachment.group];
      if (members === undefined) {
        throw new StructureError(`${where}: attribute ${attribute.id} is attached to unknown group ${attachment.group}`);
      }
      list = [...members];
      group = attachment.group;
    } else {
      list = inDsdOrder(attachment.dimensions, `attribute ${attribute.id}`);
      group = Object.entries(groups).find(([, members]) => sameList(members, list))?.[0];
    }
    if (list.length === 0) return { id: attribute.id, attachment: { level: 'dataflow' } };
    if (list.length === dimensions.length) return { id: attribute.id, attachment: { level: 'observation' } };
    return {
      id: attribute.id,
      attachment: group === undefined ? { level: 'dimensions', dimensions: list } : { level: 'dimensions', dimensions: list, group },
    };
  });

  return {
    dataflow: raw.dataflow,
    dsd: raw.dsd,
    dimensions,
    timeDimension: raw.timeDimension,
    measures: [...raw.measures],
    attributes,
    groups,
    metadataStructure: raw.metadataStructure,
    metadataAttributes: [...raw.metadataAttributes],
  };
}

/** Components of the structure as CSV columns may name them (metadata attributes included). */
export function componentIds(structure: DataStructure): Set<string> {
  return new Set([
    ...structure.dimensions,
    ...structure.measures,
    ...structure.attributes.map((attribute) => attribute.id),
    ...structure.metadataAttributes,
  ]);
}

export function formatArtefact(ref: ArtefactRef): string {
  return `${ref.agency}:${ref.id}(${ref.version})`;
}

/** `urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=BIS:BIS_DER(1.0)` → its reference. */
export function parseUrn(urn: string): ArtefactRef | undefined {
  const match = /=([^:=]+):([^(:=]+)\(([^)]+)\)/.exec(urn);
  if (!match) return undefined;
  return { agency: match[1] as string, id: match[2] as string, version: match[3] as string };
}

export function sameArtefact(a: ArtefactRef, b: ArtefactRef): boolean {
  return a.agency === b.agency && a.id === b.id && a.version === b.version;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

/**
 * A short, stable description of what the mirror's tables depend on. Two structures with the same
 * signature produce the same tables, so the signature stored with the cursor tells whether the
 * structure changed since the tables were made.
 */
export function structureSignature(structure: DataStructure): StructureSignature {
  return {
    dimensions: [...structure.dimensions],
    measures: [...structure.measures],
    attributes: structure.attributes.map((attribute) => `${attribute.id}@${attachmentLabel(attribute.attachment)}`),
    metadata: [...structure.metadataAttributes],
  };
}

export interface StructureSignature {
  readonly dimensions: readonly string[];
  readonly measures: readonly string[];
  readonly attributes: readonly string[];
  readonly metadata: readonly string[];
}

export function attachmentLabel(attachment: Attachment): string {
  if (attachment.level === 'dimensions') return attachment.dimensions.join('+');
  return attachment.level;
}

/** What changed between two signatures, in words, for the error that asks for a reset. */
export function describeStructureChange(before: StructureSignature, after: StructureSignature): string[] {
  const changes: string[] = [];
  if (before.dimensions.join(',') !== after.dimensions.join(',')) {
    changes.push(`dimensions were ${before.dimensions.join(', ')} and are now ${after.dimensions.join(', ')}`);
  }
  const diff = (what: string, old: readonly string[], now: readonly string[], show: (value: string) => string): void => {
    const added = now.filter((value) => !old.includes(value));
    const removed = old.filter((value) => !now.includes(value));
    if (added.length > 0) changes.push(`${what} added: ${added.map(show).join(', ')}`);
    if (removed.length > 0) changes.push(`${what} removed: ${removed.map(show).join(', ')}`);
  };
  diff('measures', before.measures, after.measures, (value) => value);
  diff('attributes', before.attributes, after.attributes, (value) => value.replace('@', ' attached at '));
  diff('metadata attributes', before.metadata, after.metadata, (value) => value);
  return changes;
}
