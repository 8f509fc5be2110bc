import { XMLParser } from 'fast-xml-parser';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNsiSimulator, type NsiSimulator } from '../../../src/simulators/nsi/nsi-simulator.js';
import { DF_TEST_DELETE } from './test-dataflows.js';

let sim: NsiSimulator;
beforeAll(async () => {
  sim = await startNsiSimulator();
  sim.dataSpace.defineDataflow(DF_TEST_DELETE);
});
afterAll(async () => {
  await sim.close();
});

async function get(path: string, accept?: string): Promise<{ status: number; type: string; text: string }> {
  const response = await request(`${sim.url}${path}`, { headers: accept ? { accept } : {} });
  return { status: response.statusCode, type: String(response.headers['content-type'] ?? ''), text: await response.body.text() };
}

interface JsonComponent {
  id: string;
  position?: number;
  attributeRelationship?: Record<string, unknown>;
}

describe('structure queries', () => {
  it('serve SDMX-JSON 1.0 with timeDimensions, primaryMeasure and 1.0 attribute relationships', async () => {
    const answer = await get('/dataflow/OECD/DF_TEST_DELETE/1.0?references=children', 'application/vnd.sdmx.structure+json;version=1.0.0');
    expect(answer.status).toBe(200);
    expect(answer.type).toContain('version=1.0');
    const json = JSON.parse(answer.text) as { data: { dataflows: { structure: string }[]; dataStructures: { annotations: { type: string; title: string }[]; dataStructureComponents: Record<string, Record<string, unknown>> }[]; metadataStructures: { metadataStructureComponents: { reportStructures: { metadataAttributes: JsonComponent[] }[] } }[] } };
    expect(json.data.dataflows[0]!.structure).toBe('urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=OECD:DSD_DF_TEST_DELETE(1.0)');
    const dsd = json.data.dataStructures[0]!;
    const c = dsd.dataStructureComponents;
    expect((c.dimensionList!.dimensions as JsonComponent[]).map((d) => d.id)).toEqual(['DIM_1', 'DIM_2']);
    expect((c.dimensionList!.timeDimensions as JsonComponent[]).map((d) => d.id)).toEqual(['TIME_PERIOD']);
    expect((c.measureList!.primaryMeasure as JsonComponent).id).toBe('OBS_VALUE');
    expect(Object.fromEntries((c.attributeList!.attributes as JsonComponent[]).map((a) => [a.id, a.attributeRelationship]))).toEqual({
      OBS_ATTR: { primaryMeasure: 'OBS_VALUE' },
      TS_ATTR: { dimensions: ['DIM_1', 'DIM_2'] },
      GR_ATTR: { group: 'GR' },
      DF_ATTR: { none: {} },
    });
    expect(c.groups).toEqual([{ id: 'GR', groupDimensions: ['DIM_2'] }]);
    expect(dsd.annotations).toEqual([{ type: 'METADATA', title: 'urn:sdmx:org.sdmx.infomodel.metadatastructure.MetadataStructure=OECD:MSD_DF_TEST_DELETE(1.0)' }]);
    expect(json.data.metadataStructures[0]!.metadataStructureComponents.reportStructures[0]!.metadataAttributes.map((a) => a.id)).toEqual(['NOTE', 'SOURCE']);
  });

  it('serve SDMX-JSON 2.0 with measures[] and 2.0 relationships, timeDimension or timeDimensions as configured', async () => {
    for (const spelling of ['timeDimension', 'timeDimensions'] as const) {
      sim.settings.json2TimeDimension = spelling;
      const answer = await get('/v2/structure/dataflow/OECD/DF_TEST_DELETE/1.0?references=children', 'application/vnd.sdmx.structure+json;version=2.0.0');
      expect(answer.status).toBe(200);
      const json = JSON.parse(answer.text) as { data: { dataStructures: { dataStructureComponents: Record<string, Record<string, unknown>> }[] } };
      const c = json.data.dataStructures[0]!.dataStructureComponents;
      const time = c.dimensionList![spelling];
      expect(spelling === 'timeDimension' ? (time as JsonComponent).id : (time as JsonComponent[])[0]!.id).toBe('TIME_PERIOD');
      expect((c.measureList!.measures as JsonComponent[]).map((m) => m.id)).toEqual(['OBS_VALUE']);
      expect(Object.fromEntries((c.attributeList!.attributes as JsonComponent[]).map((a) => [a.id, a.attributeRelationship]))).toEqual({
        OBS_ATTR: { observation: {} },
        TS_ATTR: { dimensions: ['DIM_1', 'DIM_2'] },
        GR_ATTR: { group: 'GR' },
        DF_ATTR: { dataflow: {} },
      });
    }
    sim.settings.json2TimeDimension = 'timeDimension';
  });

  it('serve SDMX-ML 2.1 by default, and only that when JSON is refused with 406', async () => {
    sim.settings.structureFormats = ['xml21'];
    try {
      const refused = await get('/dataflow/OECD/DF_TEST_DELETE/1.0?references=children', 'application/vnd.sdmx.structure+json;version=1.0.0');
      expect(refused.status).toBe(406);
      const xml = await get('/dataflow/OECD/DF_TEST_DELETE/1.0?references=children', 'application/vnd.sdmx.structure+xml;version=2.1');
      expect(xml.status).toBe(200);
      const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, isArray: (name) => ['Dimension', 'Attribute', 'Group'].includes(name) }).parse(xml.text) as {
        Structure: { Structures: { Dataflows: unknown; DataStructures: { DataStructure: { DataStructureComponents: Record<string, Record<string, unknown>> } } } };
      };
      const c = parsed.Structure.Structures.DataStructures.DataStructure.DataStructureComponents;
      expect((c.DimensionList!.Dimension as { '@id': string }[]).map((d) => d['@id'])).toEqual(['DIM_1', 'DIM_2']);
      expect((c.DimensionList!.TimeDimension as { '@id': string })['@id']).toBe('TIME_PERIOD');
      expect((c.MeasureList!.PrimaryMeasure as { '@id': string })['@id']).toBe('OBS_VALUE');
      const relationships = Object.fromEntries(
        (c.AttributeList!.Attribute as { '@id': string; AttributeRelationship: Record<string, unknown> }[]).map((a) => [a['@id'], Object.keys(a.AttributeRelationship)]),
      );
      expect(relationships).toEqual({ OBS_ATTR: ['PrimaryMeasure'], TS_ATTR: ['Dimension'], GR_ATTR: ['Group'], DF_ATTR: ['None'] });
      expect((await get('/dataflow/OECD/DF_TEST_DELETE/1.0')).type).toContain('structure+xml');
    } finally {
      sim.settings.structureFormats = ['json1', 'json2', 'xml21'];
    }
  });

  it('follow the Accept preference order and q-values', async () => {
    const both = 'application/vnd.sdmx.structure+xml;version=2.1;q=0.5, application/vnd.sdmx.structure+json;version=1.0';
    expect((await get('/dataflow/OECD/DF_TEST_DELETE/1.0', both)).type).toContain('structure+json');
    expect((await get('/dataflow/OECD/DF_TEST_DELETE/1.0', 'text/csv')).status).toBe(406);
  });

  it('answer 404 for an unknown dataflow and the DSD alone when asked by its own id', async () => {
    expect((await get('/dataflow/OECD/NOPE/1.0', 'application/json')).status).toBe(404);
    const dsd = JSON.parse((await get('/datastructure/OECD/DSD_DF_TEST_DELETE/1.0', 'application/json')).text) as { data: Record<string, unknown> };
    expect(Object.keys(dsd.data)).toEqual(['dataStructures']);
  });
});
