import type { ArtefactRef, AttributeDefinition, DataflowStructure } from './dataflow-structure.js';

/**
 * Structure messages in SDMX-JSON 1.0 (what .Stat's NSI and OECD serve) and 2.0 (SDMX 3.0), with
 * the spelling differences a client must cope with (docs/sdmx.md, "Structure"): `timeDimensions` (array) vs
 * `timeDimension` (object), `primaryMeasure` vs `measures[]`, `assignmentStatus` vs `usage`, and
 * the two vocabularies of `attributeRelationship`.
 */

export interface StructureParts {
  readonly dataflow: boolean;
  readonly dataStructure: boolean;
  readonly metadataStructure: boolean;
}

export interface Json2Options {
  /** The 2.0 field guide says `timeDimension` (object); real registries send `timeDimensions` (array). */
  readonly timeDimension: 'timeDimension' | 'timeDimensions';
}

export function urnOf(kind: 'Dataflow' | 'DataStructure' | 'MetadataStructure' | 'ConceptScheme', ref: ArtefactRef): string {
  const pkg = { Dataflow: 'datastructure', DataStructure: 'datastructure', MetadataStructure: 'metadatastructure', ConceptScheme: 'conceptscheme' }[kind];
  return `urn:sdmx:org.sdmx.infomodel.${pkg}.${kind}=${ref.agency}:${ref.id}(${ref.version})`;
}

export function conceptSchemeOf(structure: DataflowStructure): ArtefactRef {
  return { agency: structure.dsd.agency, id: `CS_${structure.dsd.id}`, version: structure.dsd.version };
}

function conceptUrn(structure: DataflowStructure, id: string): string {
  const cs = conceptSchemeOf(structure);
  return `urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=${cs.agency}:${cs.id}(${cs.version}).${id}`;
}

function meta(prepared: Date, version: '1.0' | '2.0'): Record<string, unknown> {
  return {
    ...(version === '2.0'
      ? { schema: 'https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/structure-message/tools/schemas/2.0.0/sdmx-json-structure-schema.json' }
      : {}),
    id: `IDREF${prepared.getTime()}`,
    test: false,
    prepared: prepared.toISOString(),
    contentLanguages: ['en'],
    sender: { id: 'NSI-SIMULATOR' },
  };
}

function maintainable(ref: ArtefactRef, name: string): Record<string, unknown> {
  return { id: ref.id, version: ref.version, agencyID: ref.agency, isExternalReference: false, isFinal: true, name, names: { en: name } };
}

function metadataAnnotation(structure: DataflowStructure): Record<string, unknown>[] {
  // .Stat links a DSD to its MSD with an annotation of type METADATA whose title is the MSD's URN.
  return structure.msd ? [{ type: 'METADATA', title: urnOf('MetadataStructure', structure.msd) }] : [];
}

export function structureJson1(structure: DataflowStructure, parts: StructureParts, prepared: Date): string {
  const data: Record<string, unknown> = {};
  if (parts.dataflow) data.dataflows = [{ ...maintainable(structure, structure.name), structure: urnOf('DataStructure', structure.dsd) }];
  if (parts.dataStructure) {
    const dims = structure.dimensions.slice(0, -1);
    const relationship1 = (a: AttributeDefinition): Record<string, unknown> => {
      if (a.attachment === 'dataflow') return { none: {} };
      if (a.attachment === 'observation') return { primaryMeasure: structure.measures[0] };
      if (a.attachment === 'series') return { dimensions: dims };
      return { group: a.attachment.group };
    };
    data.dataStructures = [
      {
        ...maintainable(structure.dsd, `DSD of ${structure.name}`),
        annotations: metadataAnnotation(structure),
        dataStructureComponents: {
          attributeList: {
            id: 'AttributeDescriptor',
            attributes: structure.attributes.map((a) => ({
              id: a.id,
              assignmentStatus: a.mandatory ? 'Mandatory' : 'Conditional',
              attributeRelationship: relationship1(a),
              conceptIdentity: conceptUrn(structure, a.id),
            })),
          },
          dimensionList: {
            id: 'DimensionDescriptor',
            dimensions: dims.map((id, i) => ({ id, position: i + 1, type: 'Dimension', conceptIdentity: conceptUrn(structure, id) })),
            timeDimensions: [timeDimension(structure)],
          },
          groups: structure.groups.map((g) => ({ id: g.id, groupDimensions: g.dimensions })),
          measureList: {
            id: 'MeasureDescriptor',
            primaryMeasure: { id: structure.measures[0], conceptIdentity: conceptUrn(structure, structure.measures[0]!) },
          },
        },
      },
    ];
  }
  if (parts.metadataStructure && structure.msd) {
    data.metadataStructures = [
      {
        ...maintainable(structure.msd, `MSD of ${structure.name}`),
        metadataStructureComponents: {
          reportStructures: [{ id: 'REPORT', metadataAttributes: structure.metadataAttributes.map((id) => ({ id, conceptIdentity: conceptUrn(structure, id) })) }],
        },
      },
    ];
  }
  return JSON.stringify({ meta: meta(prepared, '1.0'), data });
}

export function structureJson2(structure: DataflowStructure, parts: StructureParts, prepared: Date, options: Json2Options): string {
  const data: Record<string, unknown> = {};
  if (parts.dataflow) data.dataflows = [{ ...maintainable(structure, structure.name), structure: urnOf('DataStructure', structure.dsd) }];
  if (parts.dataStructure) {
    const dims = structure.dimensions.slice(0, -1);
    const relationship2 = (a: AttributeDefinition): Record<string, unknown> => {
      if (a.attachment === 'dataflow') return { dataflow: {} };
      if (a.attachment === 'observation') return { observation: {} };
      if (a.attachment === 'series') return { dimensions: dims };
      return { group: a.attachment.group };
    };
    const time = timeDimension(structure);
    data.dataStructures = [
      {
        ...maintainable(structure.dsd, `DSD of ${structure.name}`),
        annotations: metadataAnnotation(structure),
        ...(structure.msd ? { metadata: urnOf('MetadataStructure', structure.msd) } : {}),
        dataStructureComponents: {
          attributeList: {
            id: 'AttributeDescriptor',
            attributes: structure.attributes.map((a) => ({
              id: a.id,
              usage: a.mandatory ? 'mandatory' : 'optional',
              attributeRelationship: relationship2(a),
              ...(a.attachment === 'observation' ? { measureRelationship: structure.measures } : {}),
              conceptIdentity: conceptUrn(structure, a.id),
            })),
          },
          dimensionList: {
            id: 'DimensionDescriptor',
            dimensions: dims.map((id, i) => ({ id, position: i + 1, type: 'Dimension', conceptIdentity: conceptUrn(structure, id) })),
            ...(options.timeDimension === 'timeDimension' ? { timeDimension: time } : { timeDimensions: [time] }),
          },
          groups: structure.groups.map((g) => ({ id: g.id, groupDimensions: g.dimensions })),
          measureList: {
            id: 'MeasureDescriptor',
            measures: structure.measures.map((id) => ({ id, usage: 'mandatory', conceptIdentity: conceptUrn(structure, id) })),
          },
        },
      },
    ];
  }
  if (parts.metadataStructure && structure.msd) {
    data.metadataStructures = [
      {
        ...maintainable(structure.msd, `MSD of ${structure.name}`),
        metadataStructureComponents: {
          metadataAttributeList: {
            id: 'MetadataAttributeDescriptor',
            metadataAttributes: structure.metadataAttributes.map((id) => ({
              id,
              minOccurs: 0,
              maxOccurs: 1,
              isPresentational: false,
              conceptIdentity: conceptUrn(structure, id),
            })),
          },
        },
      },
    ];
  }
  return JSON.stringify({ meta: meta(prepared, '2.0'), data });
}

function timeDimension(structure: DataflowStructure): Record<string, unknown> {
  return {
    id: structure.timeDimension,
    position: structure.dimensions.length,
    type: 'TimeDimension',
    conceptIdentity: conceptUrn(structure, structure.timeDimension),
    localRepresentation: { textFormat: { textType: 'ObservationalTimePeriod' } },
  };
}
