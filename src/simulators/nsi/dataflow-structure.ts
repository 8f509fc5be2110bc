/**
 * What the simulator knows about a dataflow: its DSD (dimensions, measures, attributes and where
 * they attach) and optionally the MSD of its referential metadata. Everything else in the simulator
 * addresses components through the indexes computed here, so the rules about levels live in one place.
 */

export interface ArtefactRef {
  readonly agency: string;
  readonly id: string;
  readonly version: string;
}

/**
 * Where an attribute's values live: once per dataflow, per group key (a named subset of the
 * non-time dimensions), per series (all non-time dimensions) or per observation.
 */
export type AttributeAttachment = 'dataflow' | 'series' | 'observation' | { readonly group: string };

export interface AttributeDefinition {
  readonly id: string;
  readonly attachment: AttributeAttachment;
  readonly mandatory?: boolean;
}

export interface GroupDefinition {
  readonly id: string;
  readonly dimensions: readonly string[];
}

export interface DataflowDefinition {
  readonly agency: string;
  readonly id: string;
  readonly version: string;
  readonly name?: string;
  /** The DSD; defaults to `{agency}:DSD_{id}({version})`. */
  readonly structure?: ArtefactRef;
  /** Non-time dimensions in DSD order. */
  readonly dimensions: readonly string[];
  /** Always last in the key, as .Stat does. */
  readonly timeDimension?: string;
  readonly measures?: readonly string[];
  readonly groups?: readonly GroupDefinition[];
  readonly attributes?: readonly AttributeDefinition[];
  /** Referential metadata attributes (an MSD linked from the DSD by annotation, as .Stat does). */
  readonly metadata?: { readonly structure?: ArtefactRef; readonly attributes: readonly string[] };
}

/** A set of dimensions that higher-level attribute values are keyed by (the dataflow level has none). */
export interface Attachment {
  /** `dataflow`, `series` or the group id. */
  readonly name: string;
  readonly level: 'dataflow' | 'group' | 'series';
  /** Positions in `dimensions` (never the time dimension), ascending. */
  readonly dimensionIndexes: readonly number[];
  /** Attribute ids in DSD order. */
  readonly attributes: readonly string[];
}

export type ComponentRole =
  | { readonly kind: 'dimension'; readonly index: number }
  | { readonly kind: 'observation'; readonly index: number }
  | { readonly kind: 'attribute'; readonly attachment: number; readonly index: number }
  | { readonly kind: 'metadata'; readonly index: number };

const SDMX_ID = /^[A-Za-z][A-Za-z0-9_@$-]*$/;
const VERSION = /^[0-9]+(\.[0-9]+){0,2}$/;

export class DataflowStructure {
  readonly ref: string;
  readonly agency: string;
  readonly id: string;
  readonly version: string;
  readonly name: string;
  readonly dsd: ArtefactRef;
  readonly msd: ArtefactRef | undefined;
  /** All dimensions in key order, the time dimension last. */
  readonly dimensions: readonly string[];
  readonly timeDimension: string;
  readonly measures: readonly string[];
  readonly groups: readonly GroupDefinition[];
  readonly attributes: readonly AttributeDefinition[];
  /** Measures then observation-level attributes: the values an observation holds. */
  readonly observationComponents: readonly string[];
  /** The dataflow level first, then groups in definition order, then series (when used). */
  readonly attachments: readonly Attachment[];
  readonly metadataAttributes: readonly string[];
  /** Data columns in DSD order: dimensions, measures, attributes. */
  readonly dataColumns: readonly string[];
  private readonly roles = new Map<string, ComponentRole>();

  constructor(definition: DataflowDefinition) {
    const where = `dataflow ${definition.agency}:${definition.id}(${definition.version})`;
    for (const part of [definition.agency, definition.id]) {
      if (!/^[A-Za-z][A-Za-z0-9_@$.-]*$/.test(part)) throw new Error(`${where}: invalid agency or id ${JSON.stringify(part)}`);
    }
    if (!VERSION.test(definition.version)) throw new Error(`${where}: invalid version ${JSON.stringify(definition.version)}`);
    this.agency = definition.agency;
    this.id = definition.id;
    this.version = definition.version;
    this.ref = `${definition.agency}:${definition.id}(${definition.version})`;
    this.name = definition.name ?? definition.id;
    this.dsd = definition.structure ?? { agency: definition.agency, id: `DSD_${definition.id}`, version: definition.version };
    this.timeDimension = definition.timeDimension ?? 'TIME_PERIOD';
    this.dimensions = [...definition.dimensions, this.timeDimension];
    this.measures = definition.measures ?? ['OBS_VALUE'];
    this.groups = definition.groups ?? [];
    this.attributes = definition.attributes ?? [];
    this.metadataAttributes = definition.metadata?.attributes ?? [];
    this.msd = definition.metadata
      ? (definition.metadata.structure ?? { agency: definition.agency, id: `MSD_${definition.id}`, version: definition.version })
      : undefined;
    if (definition.dimensions.length === 0) throw new Error(`${where}: at least one dimension besides ${this.timeDimension} is needed`);
    if (this.measures.length === 0) throw new Error(`${where}: at least one measure is needed`);

    const seen = new Set<string>();
    const claim = (id: string, what: string): void => {
      if (!SDMX_ID.test(id)) throw new Error(`${where}: ${what} id ${JSON.stringify(id)} is not a valid SDMX id`);
      if (seen.has(id)) throw new Error(`${where}: component id ${id} is used twice`);
      seen.add(id);
    };
    this.dimensions.forEach((id, index) => {
      claim(id, 'dimension');
      this.roles.set(id, { kind: 'dimension', index });
    });
    const nonTime = this.dimensions.length - 1;

    const observationComponents = [...this.measures];
    this.measures.forEach((id) => claim(id, 'measure'));
    for (const group of this.groups) {
      if (!SDMX_ID.test(group.id)) throw new Error(`${where}: group id ${JSON.stringify(group.id)} is not a valid SDMX id`);
      if (group.dimensions.length === 0) throw new Error(`${where}: group ${group.id} has no dimension`);
      for (const dim of group.dimensions) {
        const index = definition.dimensions.indexOf(dim);
        if (index < 0) throw new Error(`${where}: group ${group.id} names ${dim}, which is not a non-time dimension`);
      }
    }

    for (const attribute of this.attributes) {
      claim(attribute.id, 'attribute');
      const a = attribute.attachment;
      if (typeof a === 'object' && !this.groups.some((g) => g.id === a.group)) {
        throw new Error(`${where}: attribute ${attribute.id} is attached to unknown group ${a.group}`);
      }
      if (a === 'observation') observationComponents.push(attribute.id);
    }
    const nameOf = (a: Exclude<AttributeAttachment, 'observation'>): string => (typeof a === 'object' ? a.group : a);
    const higher = this.attributes.filter(
      (a): a is AttributeDefinition & { attachment: Exclude<AttributeAttachment, 'observation'> } => a.attachment !== 'observation',
    );
    const used = new Set(higher.map((a) => nameOf(a.attachment)));
    // From the widest attachment to the narrowest: dataflow, groups, series.
    const ordered: (Attachment & { attributes: string[] })[] = [{ name: 'dataflow', level: 'dataflow', dimensionIndexes: [], attributes: [] }];
    for (const group of this.groups) {
      if (!used.has(group.id)) continue;
      const dimensionIndexes = group.dimensions.map((d) => definition.dimensions.indexOf(d)).sort((x, y) => x - y);
      ordered.push({ name: group.id, level: 'group', dimensionIndexes, attributes: [] });
    }
    if (used.has('series')) {
      ordered.push({ name: 'series', level: 'series', dimensionIndexes: Array.from({ length: nonTime }, (_, i) => i), attributes: [] });
    }
    for (const attribute of higher) {
      const attachment = ordered.findIndex((o) => o.name === nameOf(attribute.attachment));
      const target = ordered[attachment]!;
      this.roles.set(attribute.id, { kind: 'attribute', attachment, index: target.attributes.length });
      target.attributes.push(attribute.id);
    }
    this.attachments = ordered;
    this.observationComponents = observationComponents;
    observationComponents.forEach((id, index) => this.roles.set(id, { kind: 'observation', index }));
    this.metadataAttributes.forEach((id, index) => {
      claim(id, 'metadata attribute');
      this.roles.set(id, { kind: 'metadata', index });
    });
    this.dataColumns = [...this.dimensions, ...this.measures, ...this.attributes.map((a) => a.id)];
  }

  role(component: string): ComponentRole | undefined {
    return this.roles.get(component);
  }

  /** Where an attribute defined at a level above the observation is stored. */
  attachmentOf(attribute: string): Attachment | undefined {
    const role = this.roles.get(attribute);
    return role?.kind === 'attribute' ? this.attachments[role.attachment] : undefined;
  }

  attachmentByName(name: string): Attachment | undefined {
    return this.attachments.find((a) => a.name === name);
  }
}

/** `AGENCY:ID(VERSION)` -> parts, or undefined when it is not of that form. */
export function parseDataflowRef(ref: string): ArtefactRef | undefined {
  const match = /^([^:()]+):([^:()]+)\(([^()]+)\)$/.exec(ref);
  if (!match) return undefined;
  return { agency: match[1]!, id: match[2]!, version: match[3]! };
}
