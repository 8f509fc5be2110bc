import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { derivePrefix, planLayout } from '../../../src/sources/sdmx/layout.js';
import { parseStructureJson } from '../../../src/sources/sdmx/structure-json.js';
import { parseStructureXml } from '../../../src/sources/sdmx/structure-xml.js';
import type { DataStructure } from '../../../src/sources/sdmx/structure.js';

const FIXTURES = new URL('../../fixtures/sdmx/', import.meta.url);
const text = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const testDelete = (): DataStructure =>
  parseStructureJson(JSON.parse(text('df_test_delete_structure.json')), { agency: 'OECD', id: 'DF_TEST_DELETE', version: '1.0' });

const key = (name: string) => ({ name, type: 'text', nullable: false });
const value = (name: string) => ({ name, type: 'text' });

describe('tables of a dataflow', () => {
  it('lays out the .Stat test dataflow: observations, series and group tables, dataset row, metadata, view', () => {
    const layout = planLayout(testDelete(), { metadata: true });
    expect(layout.prefix).toBe('df_test_delete');
    expect(layout.observations.spec).toEqual({
      name: 'df_test_delete_obs',
      columns: [key('DIM_1'), key('DIM_2'), key('TIME_PERIOD'), value('OBS_VALUE'), value('OBS_ATTR')],
      primaryKey: ['DIM_1', 'DIM_2', 'TIME_PERIOD'],
    });
    expect(layout.attributeTables.map((table) => table.spec)).toEqual([
      { name: 'df_test_delete_attr_series', columns: [key('DIM_1'), key('DIM_2'), value('TS_ATTR')], primaryKey: ['DIM_1', 'DIM_2'] },
      { name: 'df_test_delete_attr_gr', columns: [key('DIM_2'), value('GR_ATTR')], primaryKey: ['DIM_2'] },
    ]);
    expect(layout.datasetAttributes?.spec).toEqual({
      name: 'df_test_delete_dataset_attr',
      columns: [{ name: 'dataset_row', type: 'integer', nullable: false }, value('DF_ATTR')],
      primaryKey: ['dataset_row'],
    });
    expect(layout.metadata?.spec).toEqual({
      name: 'df_test_delete_meta',
      columns: [key('DIM_1'), key('DIM_2'), key('TIME_PERIOD'), value('SOURCE'), value('CONTACT'), value('CONTACT_NAME'), value('CONTACT_EMAIL')],
      primaryKey: ['DIM_1', 'DIM_2', 'TIME_PERIOD'],
    });
    expect(layout.metadata?.columnOf.get('CONTACT.NAME')).toBe('CONTACT_NAME');
    expect(layout.view).toEqual({
      name: 'df_test_delete',
      from: 'df_test_delete_obs',
      leftJoins: [
        { table: 'df_test_delete_attr_series', using: ['DIM_1', 'DIM_2'] },
        { table: 'df_test_delete_attr_gr', using: ['DIM_2'] },
        { table: 'df_test_delete_dataset_attr', using: [] },
      ],
    });
  });

  it('gives every dimension set its own table, shared by a group and a relationship naming the same dimensions', () => {
    const layout = planLayout(parseStructureJson(JSON.parse(text('dsd_attrs_rels.json')), undefined), { prefix: 'rels' });
    expect(layout.observations.spec.columns.map((column) => column.name)).toEqual([
      'DIM1', 'DIM2', 'DIM3', 'DIM4', 'MEAS1', 'MEAS2', 'MEAS3', 'OBS_ATTR', 'OBS_ATTR_M',
    ]);
    expect(layout.attributeTables.map((table) => [table.spec.name, table.dimensions, table.components])).toEqual([
      ['rels_attr_group1', ['DIM2', 'DIM3'], ['GROUP_ATTR', 'DIM_GROUP_ATTR', 'GROUP_ATTR_M', 'DIM_GROUP_ATTR_M']],
      ['rels_attr_dim2', ['DIM2'], ['DIM_NOGROUP_ATTR', 'DIM_NOGROUP_ATTR_M']],
      ['rels_attr_dim1_dim2_dim3', ['DIM1', 'DIM2', 'DIM3'], ['SERIES_ATTR', 'SERIES_ATTR_M']],
    ]);
    expect(layout.datasetAttributes?.components).toEqual(['DATAFLOW_ATTR']);
    expect(layout.metadata).toBeUndefined();
  });

  it('derives a prefix from a .Stat dataflow id with @ and names single-dimension tables after the dimension', () => {
    const structure = parseStructureXml(text('oecd_g20_prices_structure.xml'), {
      agency: 'OECD.SDD.TPS',
      id: 'DSD_G20_PRICES@DF_G20_PRICES',
      version: '1.0',
    });
    const layout = planLayout(structure);
    expect(layout.prefix).toBe('dsd_g20_prices_df_g20_prices');
    expect(layout.attributeTables.map((table) => table.spec.name)).toEqual([
      'dsd_g20_prices_df_g20_prices_attr_unit_measure',
      'dsd_g20_prices_df_g20_prices_attr_expenditure',
      'dsd_g20_prices_df_g20_prices_attr_series',
    ]);
    expect(layout.datasetAttributes?.components).toEqual(['UNIT_MULT']);
  });

  it('derives prefixes that are identifiers', () => {
    expect(derivePrefix('DF_TOURISM')).toBe('df_tourism');
    expect(derivePrefix('DOMESTIC@TOURISM_TRIPS')).toBe('domestic_tourism_trips');
    expect(derivePrefix('1_FLOW')).toBe('df_1_flow');
    expect(derivePrefix('X'.repeat(80))).toHaveLength(39);
  });

  it('refuses a component id that is not an identifier, naming the dataflow', () => {
    const structure = testDelete();
    const bad: DataStructure = { ...structure, measures: ['OBS VALUE'] };
    expect(() => planLayout(bad)).toThrow('dataflow OECD:DF_TEST_DELETE(1.0): component id "OBS VALUE" is not a valid identifier');
  });

  it('refuses a bad prefix and a metadata table without metadata structure', () => {
    expect(() => planLayout(testDelete(), { prefix: '9lives' })).toThrow('table prefix "9lives" is not a valid identifier');
    const withoutMsd: DataStructure = { ...testDelete(), metadataAttributes: [] };
    expect(() => planLayout(withoutMsd, { metadata: true })).toThrow('metadata was asked for, but the data structure links no metadata structure');
  });
});
