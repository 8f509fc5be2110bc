import type { AttributeDefinition, DataflowStructure } from './dataflow-structure.js';
import { conceptSchemeOf, urnOf, type StructureParts } from './structure-json.js';

/** The same structures as SDMX-ML 2.1 (the NSI's default, and what is left when JSON is refused with 406). */

const NS = {
  message: 'http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message',
  structure: 'http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure',
  common: 'http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common',
};

export function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

export function structureXml21(structure: DataflowStructure, parts: StructureParts, prepared: Date): string {
  const out: string[] = [];
  const a = (name: string, value: string): string => ` ${name}="${escapeXml(value)}"`;
  const cs = conceptSchemeOf(structure);
  const concept = (id: string): string =>
    `<structure:ConceptIdentity><Ref${a('id', id)}${a('maintainableParentID', cs.id)}${a('maintainableParentVersion', cs.version)}${a('agencyID', cs.agency)} package="conceptscheme" class="Concept"/></structure:ConceptIdentity>`;
  const name = (text: string): string => `<common:Name xml:lang="en">${escapeXml(text)}</common:Name>`;

  out.push('<?xml version="1.0" encoding="utf-8"?>');
  out.push(`<message:Structure xmlns:message="${NS.message}" xmlns:structure="${NS.structure}" xmlns:common="${NS.common}">`);
  out.push(
    `<message:Header><message:ID>IDREF${prepared.getTime()}</message:ID><message:Test>false</message:Test><message:Prepared>${prepared.toISOString()}</message:Prepared><message:Sender id="NSI-SIMULATOR"/></message:Header>`,
  );
  out.push('<message:Structures>');
  if (parts.dataflow) {
    const dsd = structure.dsd;
    out.push(
      `<structure:Dataflows><structure:Dataflow${a('id', structure.id)}${a('agencyID', structure.agency)}${a('version', structure.version)} isFinal="true"${a('urn', urnOf('Dataflow', structure))}>${name(structure.name)}<structure:Structure><Ref${a('id', dsd.id)}${a('agencyID', dsd.agency)}${a('version', dsd.version)} package="datastructure" class="DataStructure"/></structure:Structure></structure:Dataflow></structure:Dataflows>`,
    );
  }
  if (parts.metadataStructure && structure.msd) {
    const msd = structure.msd;
    out.push(
      `<structure:MetadataStructures><structure:MetadataStructure${a('id', msd.id)}${a('agencyID', msd.agency)}${a('version', msd.version)} isFinal="true"${a('urn', urnOf('MetadataStructure', msd))}>${name(`MSD of ${structure.name}`)}<structure:MetadataStructureComponents><structure:ReportStructure id="REPORT">`,
    );
    for (const id of structure.metadataAttributes) out.push(`<structure:MetadataAttribute${a('id', id)}>${concept(id)}</structure:MetadataAttribute>`);
    out.push('</structure:ReportStructure></structure:MetadataStructureComponents></structure:MetadataStructure></structure:MetadataStructures>');
  }
  if (parts.dataStructure) {
    const dsd = structure.dsd;
    const dims = structure.dimensions.slice(0, -1);
    out.push(`<structure:DataStructures><structure:DataStructure${a('id', dsd.id)}${a('agencyID', dsd.agency)}${a('version', dsd.version)} isFinal="true"${a('urn', urnOf('DataStructure', dsd))}>`);
    if (structure.msd) {
      out.push(
        `<common:Annotations><common:Annotation><common:AnnotationTitle>${escapeXml(urnOf('MetadataStructure', structure.msd))}</common:AnnotationTitle><common:AnnotationType>METADATA</common:AnnotationType></common:Annotation></common:Annotations>`,
      );
    }
    out.push(name(`DSD of ${structure.name}`));
    out.push('<structure:DataStructureComponents><structure:DimensionList id="DimensionDescriptor">');
    dims.forEach((id, i) => out.push(`<structure:Dimension${a('id', id)} position="${i + 1}">${concept(id)}</structure:Dimension>`));
    out.push(
      `<structure:TimeDimension${a('id', structure.timeDimension)} position="${structure.dimensions.length}">${concept(structure.timeDimension)}<structure:LocalRepresentation><structure:TextFormat textType="ObservationalTimePeriod"/></structure:LocalRepresentation></structure:TimeDimension>`,
    );
    out.push('</structure:DimensionList>');
    for (const group of structure.groups) {
      out.push(`<structure:Group${a('id', group.id)}>`);
      for (const d of group.dimensions) {
        out.push(`<structure:GroupDimension><structure:DimensionReference><Ref${a('id', d)}/></structure:DimensionReference></structure:GroupDimension>`);
      }
      out.push('</structure:Group>');
    }
    if (structure.attributes.length > 0) {
      out.push('<structure:AttributeList id="AttributeDescriptor">');
      const relationship = (attribute: AttributeDefinition): string => {
        if (attribute.attachment === 'dataflow') return '<structure:None/>';
        if (attribute.attachment === 'observation') return `<structure:PrimaryMeasure><Ref${a('id', structure.measures[0]!)}/></structure:PrimaryMeasure>`;
        if (attribute.attachment === 'series') return dims.map((d) => `<structure:Dimension><Ref${a('id', d)}/></structure:Dimension>`).join('');
        return `<structure:Group><Ref${a('id', attribute.attachment.group)}/></structure:Group>`;
      };
      for (const attribute of structure.attributes) {
        out.push(
          `<structure:Attribute${a('id', attribute.id)}${a('assignmentStatus', attribute.mandatory ? 'Mandatory' : 'Conditional')}>${concept(attribute.id)}<structure:AttributeRelationship>${relationship(attribute)}</structure:AttributeRelationship></structure:Attribute>`,
        );
      }
      out.push('</structure:AttributeList>');
    }
    out.push(
      `<structure:MeasureList id="MeasureDescriptor"><structure:PrimaryMeasure${a('id', structure.measures[0]!)}>${concept(structure.measures[0]!)}</structure:PrimaryMeasure></structure:MeasureList>`,
    );
    out.push('</structure:DataStructureComponents></structure:DataStructure></structure:DataStructures>');
  }
  out.push('</message:Structures></message:Structure>');
  return out.join('\n');
}
