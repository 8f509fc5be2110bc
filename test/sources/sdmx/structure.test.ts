import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  describeStructureChange,
  structureSignature,
  type DataStructure,
} from '../../../src/sources/sdmx/structure.js';
import { parseMetadataStructureJson, parseStructureJson } from '../../../src/sources/sdmx/structure-json.js';
import { parseStructureXml } from '../../../src/sources/sdmx/structure-xml.js';

const FIXTURES = new URL('../../fixtures/sdmx/', import.meta.url);
const text = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const json = (name: string): unknown => JSON.parse(text(name));

const TEST_DELETE: DataStructure = {
  dataflow: { agency: 'OECD', id: 'DF_TEST_DELETE', version: '1.0' },
  dsd: { agency: 'OECD', id: 'DSD_TEST_DELETE', version: '1.0' },
  dimensions: ['DIM_1', 'DIM_2', 'TIME_PERIOD'],
  timeDimension: 'TIME_PERIOD',
  measures: ['OBS_VALUE'],
  attributes: [
    { id: 'OBS_ATTR', attachment: { level: 'observation' } },
    { id: 'TS_ATTR', attachment: { level: 'dimensions', dimensions: ['DIM_1', 'DIM_2'] } },
    { id: 'GR_ATTR', attachment: { level: 'dimensions', dimensions: ['DIM_2'], group: 'GR' } },
    { id: 'DF_ATTR', attachment: { level: 'dataflow' } },
  ],
  groups: { GR: ['DIM_2'] },
  metadataStructure: { agency: 'OECD', id: 'MSD_TEST', version: '1.0' },
  metadataAttributes: ['SOURCE', 'CONTACT', 'CONTACT.NAME', 'CONTACT.EMAIL'],
};

describe('SDMX-JSON structure parsing', () => {
  it('reads the real FMR 2.0 answer (bis_der.json): timeDimensions array last, measures[], dataflow/dimensions/observation relationships', () => {
    const structure = parseStructureJson(json('bis_der.json'), { agency: 'BIS', id: 'WS_DER_OTC_TOV', version: '1.0' });
    const series = [
      'FREQ', 'DER_TYPE', 'DER_INSTR', 'DER_RISK', 'DER_REP_CTY', 'DER_SECTOR_CPY', 'DER_CPC', 'DER_SECTOR_UDL',
      'DER_CURR_LEG1', 'DER_CURR_LEG2', 'DER_ISSUE_MAT', 'DER_RATING', 'DER_EX_METHOD', 'DER_BASIS',
    ];
    expect(structure.dataflow).toEqual({ agency: 'BIS', id: 'WS_DER_OTC_TOV', version: '1.0' });
    expect(structure.dsd).toEqual({ agency: 'BIS', id: 'BIS_DER', version: '1.0' });
    expect(structure.dimensions).toEqual([...series, 'TIME_PERIOD']);
    expect(structure.timeDimension).toBe('TIME_PERIOD');
    expect(structure.measures).toEqual(['OBS_VALUE']);
    expect(structure.groups.Sibling).toEqual(series.slice(1));
    const levels = Object.fromEntries(structure.attributes.map((attribute) => [attribute.id, attribute.attachment]));
    expect(levels).toEqual({
      TIME_FORMAT: { level: 'dimensions', dimensions: series },
      OBS_STATUS: { level: 'observation' },
      AVAILABILITY: { level: 'dimensions', dimensions: series },
      COLLECTION: { level: 'dimensions', dimensions: series },
      DECIMALS: { level: 'dataflow' },
      UNIT_MEASURE: { level: 'dataflow' },
      UNIT_MULT: { level: 'dataflow' },
      OBS_CONF: { level: 'observation' },
      OBS_PRE_BREAK: { level: 'observation' },
      TITLE_TS: { level: 'dimensions', dimensions: series },
    });
    expect(structure.metadataStructure).toBeUndefined();
  });

  it('reads every attributeRelationship kind of dsd_attrs_rels.json, a DSD without time dimension, and matches a dimension list to its group', () => {
    const structure = parseStructureJson(json('dsd_attrs_rels.json'), undefined);
    expect(structure.dataflow).toBeUndefined();
    expect(structure.dimensions).toEqual(['DIM1', 'DIM2', 'DIM3', 'DIM4']);
    expect(structure.timeDimension).toBeUndefined();
    expect(structure.measures).toEqual(['MEAS1', 'MEAS2', 'MEAS3']);
    const levels = Object.fromEntries(structure.attributes.map((attribute) => [attribute.id, attribute.attachment]));
    const group = { level: 'dimensions', dimensions: ['DIM2', 'DIM3'], group: 'GROUP1' };
    expect(levels).toEqual({
      DATAFLOW_ATTR: { level: 'dataflow' },
      GROUP_ATTR: group,
      DIM_GROUP_ATTR: group,
      DIM_NOGROUP_ATTR: { level: 'dimensions', dimensions: ['DIM2'] },
      SERIES_ATTR: { level: 'dimensions', dimensions: ['DIM1', 'DIM2', 'DIM3'] },
      OBS_ATTR: { level: 'observation' },
      GROUP_ATTR_M: group,
      DIM_GROUP_ATTR_M: group,
      DIM_NOGROUP_ATTR_M: { level: 'dimensions', dimensions: ['DIM2'] },
      SERIES_ATTR_M: { level: 'dimensions', dimensions: ['DIM1', 'DIM2', 'DIM3'] },
      OBS_ATTR_M: { level: 'observation' },
    });
  });

  it('reads the official 2.0.0 sample (constructed-sample.json) with its primaryMeasure spelling', () => {
    const structure = parseStructureJson(json('constructed-sample.json'), { agency: 'ECB', id: 'EXR', version: '1.0' });
    expect(structure.dsd).toEqual({ agency: 'ECB', id: 'ECB_EXR1', version: '1.0' });
    expect(structure.dimensions).toEqual(['FREQ', 'CURRENCY', 'CURRENCY_DENOM', 'EXR_TYPE', 'EXR_SUFFIX', 'TIME_PERIOD']);
    expect(structure.measures).toEqual(['OBS_VALUE']);
    expect(structure.attributes).toEqual([
      { id: 'TIME_FORMAT', attachment: { level: 'dimensions', dimensions: ['FREQ', 'CURRENCY', 'CURRENCY_DENOM', 'EXR_TYPE', 'EXR_SUFFIX'] } },
      { id: 'OBS_CONF', attachment: { level: 'observation' } },
    ]);
  });

  it('reads the other spellings: a timeDimension object, measures[] and an empty relationship (dataset level)', () => {
    const message = json('constructed-sample.json') as {
      data: { dataStructures: { dataStructureComponents: Record<string, Record<string, unknown>> }[] };
    };
    const components = message.data.dataStructures[0]?.dataStructureComponents as Record<string, Record<string, unknown>>;
    const dimensionList = components.dimensionList as Record<string, unknown>;
    dimensionList.timeDimension = { id: 'TIME_PERIOD' };
    delete dimensionList.timeDimensions;
    components.measureList = { measures: [{ id: 'OBS_VALUE' }, { id: 'OBS_COUNT' }] };
    (components.attributeList as { attributes: { attributeRelationship: unknown }[] }).attributes[0]!.attributeRelationship = {};
    const structure = parseStructureJson(message, { agency: 'ECB', id: 'EXR', version: '1.0' });
    expect(structure.dimensions.at(-1)).toBe('TIME_PERIOD');
    expect(structure.measures).toEqual(['OBS_VALUE', 'OBS_COUNT']);
    expect(structure.attributes[0]).toEqual({ id: 'TIME_FORMAT', attachment: { level: 'dataflow' } });
  });

  it('reads the .Stat test DSD (NSI JSON 1.0 spelling) with its MSD linked by a METADATA annotation', () => {
    const structure = parseStructureJson(json('df_test_delete_structure.json'), { agency: 'OECD', id: 'DF_TEST_DELETE', version: '1.0' });
    expect(structure).toEqual(TEST_DELETE);
    expect(parseMetadataStructureJson(json('df_test_delete_structure.json'), { agency: 'OECD', id: 'MSD_TEST', version: '1.0' })).toEqual(
      TEST_DELETE.metadataAttributes,
    );
  });

  it('reads an MSD in the 2.0 layout (metadataAttributeList, nested attributes dotted)', () => {
    const message = {
      data: {
        metadataStructures: [
          {
            id: 'MSD',
            agencyID: 'A',
            version: '1.0',
            metadataStructureComponents: {
              metadataAttributeList: { metadataAttributes: [{ id: 'P', metadataAttributes: [{ id: 'C1' }, { id: 'C2' }] }, { id: 'Q' }] },
            },
          },
        ],
      },
    };
    expect(parseMetadataStructureJson(message, { agency: 'A', id: 'MSD', version: '1.0' })).toEqual(['P', 'P.C1', 'P.C2', 'Q']);
  });

  it('names the dataflow when the message does not describe it, and an unknown group or dimension', () => {
    expect(() => parseStructureJson(json('constructed-sample.json'), { agency: 'ECB', id: 'NOPE', version: '1.0' })).toThrow(
      'the structure message does not describe dataflow ECB:NOPE(1.0)',
    );
    expect(() => parseStructureJson({ data: { dataflows: [] } }, { agency: 'A', id: 'B', version: '1.0' })).toThrow(
      'the structure message does not include its data structure (query with references=children)',
    );
    const broken = json('df_test_delete_structure.json') as { data: { dataStructures: { dataStructureComponents: { groups: unknown[] } }[] } };
    broken.data.dataStructures[0]!.dataStructureComponents.groups = [];
    expect(() => parseStructureJson(broken, undefined)).toThrow(
      'data structure OECD:DSD_TEST_DELETE(1.0): attribute GR_ATTR is attached to unknown group GR',
    );
    const wrongDimension = json('df_test_delete_structure.json') as {
      data: { dataStructures: { dataStructureComponents: { attributeList: { attributes: { attributeRelationship: unknown }[] } } }[] };
    };
    wrongDimension.data.dataStructures[0]!.dataStructureComponents.attributeList.attributes[1]!.attributeRelationship = { dimensions: ['DIM_9'] };
    expect(() => parseStructureJson(wrongDimension, undefined)).toThrow('attribute TS_ATTR refers to unknown dimension DIM_9');
  });
});

describe('SDMX-ML 2.1 structure parsing', () => {
  it('reads the same .Stat test DSD from XML as from JSON', () => {
    const structure = parseStructureXml(text('df_test_delete_structure.xml'), { agency: 'OECD', id: 'DF_TEST_DELETE', version: '1.0' });
    expect(structure).toEqual(TEST_DELETE);
  });

  it('reads a real .Stat NSI answer (OECD G20 prices): None, PrimaryMeasure and Dimension relationships, the MSD annotation', () => {
    const structure = parseStructureXml(text('oecd_g20_prices_structure.xml'), {
      agency: 'OECD.SDD.TPS',
      id: 'DSD_G20_PRICES@DF_G20_PRICES',
      version: '1.0',
    });
    const series = ['REF_AREA', 'FREQ', 'METHODOLOGY', 'MEASURE', 'UNIT_MEASURE', 'EXPENDITURE', 'ADJUSTMENT', 'TRANSFORMATION'];
    expect(structure.dsd).toEqual({ agency: 'OECD.SDD.TPS', id: 'DSD_G20_PRICES', version: '1.0' });
    expect(structure.dimensions).toEqual([...series, 'TIME_PERIOD']);
    expect(structure.measures).toEqual(['OBS_VALUE']);
    expect(structure.attributes).toEqual([
      { id: 'OBS_STATUS', attachment: { level: 'observation' } },
      { id: 'UNIT_MULT', attachment: { level: 'dataflow' } },
      { id: 'BASE_PER', attachment: { level: 'dimensions', dimensions: ['UNIT_MEASURE'] } },
      { id: 'DURABILITY', attachment: { level: 'dimensions', dimensions: ['EXPENDITURE'] } },
      { id: 'DECIMALS', attachment: { level: 'dimensions', dimensions: series } },
    ]);
    expect(structure.metadataStructure).toEqual({ agency: 'OECD', id: 'MSD_REF_METADATA', version: '1.0' });
    // The MSD itself is not in this answer: it is fetched separately.
    expect(structure.metadataAttributes).toEqual([]);
  });

  it('refuses something that is not a structure message', () => {
    expect(() => parseStructureXml('<html><body>Sign in</body></html>', undefined)).toThrow('the response is not an SDMX-ML structure message');
  });
});

describe('structure signature', () => {
  it('says which components appeared, went or moved level', () => {
    const before = structureSignature(TEST_DELETE);
    const after = structureSignature({
      ...TEST_DELETE,
      measures: ['OBS_VALUE', 'OBS_COUNT'],
      attributes: [
        { id: 'OBS_ATTR', attachment: { level: 'observation' } },
        { id: 'TS_ATTR', attachment: { level: 'dimensions', dimensions: ['DIM_1', 'DIM_2'] } },
        { id: 'GR_ATTR', attachment: { level: 'dataflow' } },
      ],
    });
    expect(describeStructureChange(before, before)).toEqual([]);
    expect(describeStructureChange(before, after)).toEqual([
      'measures added: OBS_COUNT',
      'attributes added: GR_ATTR attached at dataflow',
      'attributes removed: GR_ATTR attached at DIM_2, DF_ATTR attached at dataflow',
    ]);
  });
});
