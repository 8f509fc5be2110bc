import { readFileSync } from 'node:fs';
import type { DataflowDefinition } from '../../../src/simulators/nsi/dataflow-structure.js';

/** The DSD of the .Stat delete examples (DSS upload-data-sdmx-file.md), plus referential metadata. */
export const DF_TEST_DELETE: DataflowDefinition = {
  agency: 'OECD',
  id: 'DF_TEST_DELETE',
  version: '1.0',
  dimensions: ['DIM_1', 'DIM_2'],
  groups: [{ id: 'GR', dimensions: ['DIM_2'] }],
  attributes: [
    { id: 'OBS_ATTR', attachment: 'observation' },
    { id: 'TS_ATTR', attachment: 'series' },
    { id: 'GR_ATTR', attachment: { group: 'GR' } },
    { id: 'DF_ATTR', attachment: 'dataflow' },
  ],
  metadata: { attributes: ['NOTE', 'SOURCE'] },
};

export const DELETE_HEADER = 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR';

export function fixture(name: string): string {
  return readFileSync(new URL(`../../fixtures/nsi/${name}`, import.meta.url), 'utf8');
}

export const BASE_DATA = 'OECD-DF_TEST_DELETE-1.0-all_data.csv';

/** A message of Delete/Merge/Replace rows for DF_TEST_DELETE; each line is `ACTION,cells...` after the structure cells. */
export function message(...rows: string[]): string {
  return [DELETE_HEADER, ...rows.map((r) => `dataflow,OECD:DF_TEST_DELETE(1.0),${r}`)].join('\n') + '\n';
}
