import { createReadStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangeOp } from '../../../src/core/ops.js';
import { SdmxActionMapper } from '../../../src/sources/sdmx/apply-actions.js';
import { SdmxMetadataMapper } from '../../../src/sources/sdmx/apply-metadata.js';
import { openSdmxCsv } from '../../../src/sources/sdmx/csv-reader.js';
import { planLayout, type DataflowLayout } from '../../../src/sources/sdmx/layout.js';
import { parseStructureJson } from '../../../src/sources/sdmx/structure-json.js';
import type { DataStructure } from '../../../src/sources/sdmx/structure.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { tempSqliteStore } from '../../helpers/stores.js';

const FIXTURES = new URL('../../fixtures/sdmx/', import.meta.url);
const structure: DataStructure = parseStructureJson(JSON.parse(readFileSync(new URL('df_test_delete_structure.json', FIXTURES), 'utf8')), {
  agency: 'OECD',
  id: 'DF_TEST_DELETE',
  version: '1.0',
});
const layout: DataflowLayout = planLayout(structure, { prefix: 'td', metadata: true });
const HEADER = 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR\n';
const ROW = 'dataflow,OECD:DF_TEST_DELETE(1.0),';

type Obs = [string, string, string, string | null, string | null];
type Series = [string, string, string | null];
type Group = [string, string | null];

/** The base state as the .Stat sample lists it: DIM_1 × DIM_2 × 2020..2022, OBS_ATTR A/B/C by year. */
const BASE_VALUES: Record<string, [string, string, string]> = {
  AA: ['1234', '2345', '3456'],
  AB: ['4321', '5432', '6543'],
  AC: ['2134', '3245', '4356'],
  BA: ['4567', '5678', '6789'],
  BB: ['7654', '8765', '7654'],
  BC: ['5467', '6578', '7689'],
  CA: ['1289', '2378', '3467'],
  CB: ['9821', '8732', '7643'],
  CC: ['2189', '3278', '4367'],
};
const YEARS = ['2020', '2021', '2022'];
const OBS_ATTR_OF_YEAR = ['A', 'B', 'C'];
const BASE_OBS: Obs[] = Object.entries(BASE_VALUES).flatMap(([series, values]) =>
  YEARS.map((year, y): Obs => [series[0] as string, series[1] as string, year, values[y] as string, OBS_ATTR_OF_YEAR[y] as string]),
);
const BASE_SERIES: Series[] = Object.keys(BASE_VALUES).map((series): Series => [series[0] as string, series[1] as string, series]);
const BASE_GROUPS: Group[] = [
  ['A', 'A'],
  ['B', 'B'],
  ['C', 'C'],
];
const BASE_DATASET = [[1, 'DF']];

interface Content {
  obs: Obs[];
  series: Series[];
  groups: Group[];
  dataset: (string | number | null)[][];
}
const base = (): Content => ({ obs: BASE_OBS, series: BASE_SERIES, groups: BASE_GROUPS, dataset: BASE_DATASET });

let store: SqliteStore;
let cleanup: () => Promise<void>;
let path: string;
let dataflowDeletes: number[];

beforeEach(async () => {
  ({ store, cleanup, path } = await tempSqliteStore());
  dataflowDeletes = [];
  const tables = [layout.observations, ...layout.attributeTables, layout.datasetAttributes, layout.metadata];
  const ops: ChangeOp[] = tables.map((table) => ({ op: 'ensureTable', spec: table!.spec }));
  ops.push({ op: 'ensureView', spec: layout.view });
  await store.transaction((tx) => tx.apply(ops));
});

afterEach(async () => {
  await cleanup();
});

/** `endVerified`: a file's end is known (several fixtures end without a line break). */
async function apply(body: Readable, endVerified = false): Promise<void> {
  const message = await openSdmxCsv(body, { label: 'td', endVerified });
  const mapper = new SdmxActionMapper(structure, layout, message.header, {
    label: 'dataflow OECD:DF_TEST_DELETE(1.0)',
    onDataflowDelete: (line) => dataflowDeletes.push(line),
  });
  await store.transaction(async (tx) => {
    for await (const rows of message.batches) await tx.apply(mapper.map(rows));
  });
}

const applyText = (...lines: string[]): Promise<void> => apply(Readable.from([Buffer.from(HEADER + lines.map((line) => ROW + line + '\n').join(''))]));
const applyFixture = (name: string): Promise<void> => apply(createReadStream(new URL(name, FIXTURES)), true);
const loadBase = (): Promise<void> => applyFixture('OECD-DF_TEST_DELETE-1.0-all_data.csv');

async function content(): Promise<Content> {
  const read = async (table: string, columns: string[]) =>
    (await store.readTable(table)).map((row) => columns.map((column) => (typeof row[column] === 'bigint' ? Number(row[column]) : row[column])));
  return {
    obs: (await read('td_obs', ['DIM_1', 'DIM_2', 'TIME_PERIOD', 'OBS_VALUE', 'OBS_ATTR'])) as Obs[],
    series: (await read('td_attr_series', ['DIM_1', 'DIM_2', 'TS_ATTR'])) as Series[],
    groups: (await read('td_attr_gr', ['DIM_2', 'GR_ATTR'])) as Group[],
    dataset: (await read('td_dataset_attr', ['dataset_row', 'DF_ATTR'])) as (string | number | null)[][],
  };
}

describe('the .Stat base data and delete examples', () => {
  it('loads the base data (CSV 1.0, Merge) into observation, series, group and dataset tables', async () => {
    await loadBase();
    expect(await content()).toEqual(base());
    const db = new Database(path, { readonly: true });
    const view = db.prepare('SELECT * FROM "td" ORDER BY "DIM_1", "DIM_2", "TIME_PERIOD"').all();
    db.close();
    expect(view).toHaveLength(27);
    expect(view[4]).toEqual({ DIM_1: 'A', DIM_2: 'B', TIME_PERIOD: '2021', OBS_VALUE: '5432', OBS_ATTR: 'B', TS_ATTR: 'AB', GR_ATTR: 'B', DF_ATTR: 'DF' });
  });

  it('case 1: an empty D row deletes the whole content of the dataflow, and is reported', async () => {
    await loadBase();
    await applyFixture('OECD-DF_TEST_DELETE-1.0-case_1__delete_whole_content_of_the_dataflow.csv');
    expect(await content()).toEqual({ obs: [], series: [], groups: [], dataset: [] });
    expect(dataflowDeletes).toEqual([2]);
  });

  it('case 6-2: D with DIM_2=B and every component but DF_ATTR marked deletes everything related to DIM_2=B', async () => {
    await loadBase();
    await applyFixture('OECD-DF_TEST_DELETE-1.0-case_6-2__delete_everything_related_to_DIM_2_B_way2.csv');
    expect(await content()).toEqual({
      obs: BASE_OBS.filter((row) => row[1] !== 'B'),
      series: BASE_SERIES.filter((row) => row[1] !== 'B'),
      groups: BASE_GROUPS.filter((row) => row[0] !== 'B'),
      dataset: BASE_DATASET,
    });
  });

  it('case 11: D with the series key and TS_ATTR marked deletes only that series attribute', async () => {
    await loadBase();
    await applyFixture('OECD-DF_TEST_DELETE-1.0-case_11__delete_the_attributes_attached_to_time_series_DIM_1_A_DIM_2_B.csv');
    expect(await content()).toEqual({ ...base(), series: BASE_SERIES.filter((row) => !(row[0] === 'A' && row[1] === 'B')) });
  });

  it('case 14: D with the full key and OBS_VALUE marked nulls that value and keeps the observation (its OBS_ATTR remains)', async () => {
    await loadBase();
    await applyFixture('OECD-DF_TEST_DELETE-1.0-case_14__delete_observation_value_attached_to_key_DIM_1_A_DIM_2_B_TIME_PERIOD_2021.csv');
    expect((await content()).obs).toEqual(BASE_OBS.map((row): Obs => (row[0] === 'A' && row[1] === 'B' && row[2] === '2021' ? ['A', 'B', '2021', null, 'B'] : row)));
    expect(dataflowDeletes).toEqual([]);
  });
});

describe('the delete matrix of docs/sdmx.md', () => {
  const isAB = (row: readonly unknown[]): boolean => row[0] === 'A' && row[1] === 'B';
  const notSeriesAB = (row: readonly unknown[]): boolean => !isAB(row);
  const cases: [string, string, (before: Content) => Content][] = [
    ['D,,,,,,,,', 'the whole content of the dataflow', () => ({ obs: [], series: [], groups: [], dataset: [] })],
    ['D,,,,*,*,,,', 'all observations and their observation-level attributes', (c) => ({ ...c, obs: [] })],
    ['D,,,,,,,,*', 'the attributes attached at dataflow level', (c) => ({ ...c, dataset: [] })],
    [
      'D,,B,,,,,,',
      'everything related to DIM_2=B',
      (c) => ({
        obs: c.obs.filter((row) => row[1] !== 'B'),
        series: c.series.filter((row) => row[1] !== 'B'),
        groups: c.groups.filter((row) => row[0] !== 'B'),
        dataset: c.dataset,
      }),
    ],
    ['D,,B,,,,,*,', 'everything attached to DIM_2=B (the group attribute)', (c) => ({ ...c, groups: c.groups.filter((row) => row[0] !== 'B') })],
    [
      'D,A,B,,,,,,',
      'the whole time series A.B (observations and series attributes, not the group of B)',
      (c) => ({ ...c, obs: c.obs.filter(notSeriesAB), series: c.series.filter(notSeriesAB) }),
    ],
    ['D,A,B,,,,*,,', 'the attributes attached to time series A.B', (c) => ({ ...c, series: c.series.filter(notSeriesAB) })],
    [
      'D,A,B,2021,,,,,',
      'observation A.B.2021 and its observation-level attributes',
      (c) => ({ ...c, obs: c.obs.filter((row) => !(isAB(row) && row[2] === '2021')) }),
    ],
    [
      'D,A,B,2021,*,*,,,',
      'observation A.B.2021 (both its values marked)',
      (c) => ({ ...c, obs: c.obs.filter((row) => !(isAB(row) && row[2] === '2021')) }),
    ],
    [
      'D,A,B,2021,*,,,,',
      'the observation value of A.B.2021 only',
      (c) => ({ ...c, obs: c.obs.map((row): Obs => (isAB(row) && row[2] === '2021' ? [row[0], row[1], row[2], null, row[4]] : row)) }),
    ],
  ];

  it.each(cases)('%s deletes %s', async (row, _what, expected) => {
    await loadBase();
    await applyText(row);
    expect(await content()).toEqual(expected(base()));
    expect(dataflowDeletes).toEqual(row === 'D,,,,,,,,' ? [2] : []);
  });

  it('treats "-" and a former value as delete markers just like "*"', async () => {
    await loadBase();
    await applyText('D,A,B,2021,-,,,,', 'D,A,B,2022,6543,,,,');
    const obs = (await content()).obs.filter((row) => row[0] === 'A' && row[1] === 'B');
    expect(obs).toEqual([
      ['A', 'B', '2020', '4321', 'A'],
      ['A', 'B', '2021', null, 'B'],
      ['A', 'B', '2022', null, 'C'],
    ]);
  });

  it('removes an observation once partial deletes have nulled all its values, and a series row once its attribute is gone', async () => {
    await loadBase();
    await applyText('D,A,B,2021,*,,,,', 'D,A,B,2021,,*,,,');
    expect((await content()).obs).toEqual(BASE_OBS.filter((row) => !(row[0] === 'A' && row[1] === 'B' && row[2] === '2021')));
  });

  it('deleting what does not exist changes nothing and is no error', async () => {
    await loadBase();
    await applyText('D,Z,Z,2030,,,,,', 'D,Z,,,,,*,,', 'D,,Z,,,,,,', 'D,,Z,,*,,,*,');
    expect(await content()).toEqual(base());
  });

  it('leaves a value shared above the scope alone: a group or dataflow attribute marked on a series or observation row', async () => {
    await loadBase();
    await applyText('D,A,B,,,,,*,', 'D,A,B,2021,,,,*,*', 'D,Z,,,,,,*,');
    expect(await content()).toEqual(base());
  });
});

describe('Replace and Merge', () => {
  it('R on an observation row replaces its measures and observation attributes: omitted ones become NULL; higher levels given are merged', async () => {
    await loadBase();
    await applyText('R,A,B,2021,999,,,,', 'R,A,C,2020,,Q,,,');
    const { obs, series, groups } = await content();
    expect(obs.find((row) => row.slice(0, 3).join('.') === 'A.B.2021')).toEqual(['A', 'B', '2021', '999', null]);
    expect(obs.find((row) => row.slice(0, 3).join('.') === 'A.C.2020')).toEqual(['A', 'C', '2020', null, 'Q']);
    expect(series).toEqual(BASE_SERIES);
    expect(groups).toEqual(BASE_GROUPS);
  });

  it('R on an observation row with no measure or observation attribute deletes the observation, still merging the series attribute it gives', async () => {
    await loadBase();
    await applyText('R,A,B,2021,,,NEW_TS,,');
    const { obs, series } = await content();
    expect(obs).toEqual(BASE_OBS.filter((row) => row.slice(0, 3).join('.') !== 'A.B.2021'));
    expect(series.find((row) => row[0] === 'A' && row[1] === 'B')).toEqual(['A', 'B', 'NEW_TS']);
  });

  it('R on a new observation inserts it, and its new series and group rows', async () => {
    await loadBase();
    await applyText('R,D,D,2020,1,X,DD,GD,');
    const { obs, series, groups, dataset } = await content();
    expect(obs.at(-1)).toEqual(['D', 'D', '2020', '1', 'X']);
    expect(series.at(-1)).toEqual(['D', 'D', 'DD']);
    expect(groups.at(-1)).toEqual(['D', 'GD']);
    expect(dataset).toEqual(BASE_DATASET);
  });

  it('M (and I, A) upserts: omitted cells stay as they are', async () => {
    await loadBase();
    await applyText('M,A,B,2021,,Z,,,', 'I,A,B,2022,1,,,,', 'A,B,B,2020,,,NEW,,');
    const { obs, series } = await content();
    expect(obs.filter((row) => row[0] === 'A' && row[1] === 'B')).toEqual([
      ['A', 'B', '2020', '4321', 'A'],
      ['A', 'B', '2021', '5432', 'Z'],
      ['A', 'B', '2022', '1', 'C'],
    ]);
    expect(obs.find((row) => row.join('.').startsWith('B.B.2020'))).toEqual(['B', 'B', '2020', '7654', 'A']);
    expect(series.find((row) => row[0] === 'B' && row[1] === 'B')).toEqual(['B', 'B', 'NEW']);
  });

  it('R or M on partial-key and dataflow-level rows merges the attributes given into their own tables', async () => {
    await loadBase();
    await applyText('R,A,B,,,,TS_NEW,,', 'R,,C,,,,,GR_NEW,', 'M,,,,,,,,DF_NEW', 'R,A,A,,,,,GR_A2,');
    const { obs, series, groups, dataset } = await content();
    expect(obs).toEqual(BASE_OBS);
    expect(series.find((row) => row[0] === 'A' && row[1] === 'B')).toEqual(['A', 'B', 'TS_NEW']);
    expect(groups).toEqual([
      ['A', 'GR_A2'],
      ['B', 'B'],
      ['C', 'GR_NEW'],
    ]);
    expect(dataset).toEqual([[1, 'DF_NEW']]);
  });

  it('keeps a quoted empty cell as an empty string and NaN / #N/A as values', async () => {
    await loadBase();
    await applyText('R,A,B,2021,NaN,"",,,', 'M,A,B,2022,,#N/A,,,', 'M,,A,,,,,"",');
    const { obs, groups } = await content();
    expect(obs.filter((row) => row[0] === 'A' && row[1] === 'B').slice(1)).toEqual([
      ['A', 'B', '2021', 'NaN', ''],
      ['A', 'B', '2022', '6543', '#N/A'],
    ]);
    expect(groups[0]).toEqual(['A', '']);
  });

  it('applies rows in file order: an empty D followed by R rows replaces the whole dataflow', async () => {
    await loadBase();
    await applyText('D,,,,,,,,', 'R,A,A,2020,1,,,,', 'R,B,B,2021,2,,BB2,,', 'D,A,A,2020,,,,,', 'R,A,A,2020,3,,,,');
    expect(await content()).toEqual({
      obs: [
        ['A', 'A', '2020', '3', null],
        ['B', 'B', '2021', '2', null],
      ],
      series: [['B', 'B', 'BB2']],
      groups: [],
      dataset: [],
    });
  });
});

describe('switched-off dimensions (~, SDMX-CSV 2.1) in data rows', () => {
  it('D targets what is not attached to a switched-off dimension: ~,B,~ is the group of B, ~,~,~ the dataflow level, A,B,~ the series', async () => {
    await loadBase();
    await applyText('D,~,B,~,,,,*,');
    expect(await content()).toEqual({ ...base(), groups: BASE_GROUPS.filter((row) => row[0] !== 'B') });
    await applyText('D,~,~,~,,,,,');
    expect(await content()).toEqual({ ...base(), groups: BASE_GROUPS.filter((row) => row[0] !== 'B'), dataset: [] });
    await applyText('D,A,B,~,,,,,');
    expect(await content()).toEqual({
      ...base(),
      series: BASE_SERIES.filter((row) => !(row[0] === 'A' && row[1] === 'B')),
      groups: BASE_GROUPS.filter((row) => row[0] !== 'B'),
      dataset: [],
    });
    expect(dataflowDeletes).toEqual([]);
  });

  it('R and M read ~ like an omitted dimension: attributes merge at their level, a measure needs the full key', async () => {
    await loadBase();
    await applyText('M,~,B,~,,,,GB2,', 'R,A,B,~,,,AB2,,', 'M,~,~,~,,,,,DF2');
    expect(await content()).toEqual({
      obs: BASE_OBS,
      series: BASE_SERIES.map((row): Series => (row[0] === 'A' && row[1] === 'B' ? ['A', 'B', 'AB2'] : row)),
      groups: BASE_GROUPS.map((row): Group => (row[0] === 'B' ? ['B', 'GB2'] : row)),
      dataset: [[1, 'DF2']],
    });
    await expect(applyText('R,A,~,2020,5,,,,')).rejects.toThrow('line 2 (dataflow OECD:DF_TEST_DELETE(1.0), action R): OBS_VALUE is given on a row without every dimension (DIM_2 omitted)');
  });
});

describe('rows the mapper refuses, naming the dataflow and line', () => {
  it('a measure on a row without every dimension', async () => {
    await expect(applyText('R,A,B,2021,1,,,,', 'R,A,,2021,1,,,,')).rejects.toThrow(
      'dataflow OECD:DF_TEST_DELETE(1.0): line 3 (dataflow OECD:DF_TEST_DELETE(1.0), action R): OBS_VALUE is given on a row without every dimension (DIM_2 omitted)',
    );
  });

  it('a series attribute on a row that omits one of its dimensions', async () => {
    await expect(applyText('M,,B,,,,TS,,')).rejects.toThrow('line 2 (dataflow OECD:DF_TEST_DELETE(1.0), action M): attribute TS_ATTR is attached to DIM_1, DIM_2 but the row omits DIM_1');
  });

  it('a row of another dataflow', async () => {
    await expect(apply(Readable.from([HEADER + 'dataflow,OECD:DF_OTHER(1.0),R,A,B,2021,1,,,,\n']))).rejects.toThrow(
      'line 2 (dataflow OECD:DF_OTHER(1.0), action R): the row belongs to dataflow OECD:DF_OTHER(1.0), not to OECD:DF_TEST_DELETE(1.0)',
    );
  });

  it('a header with a component the structure does not have', async () => {
    await expect(apply(Readable.from(['STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,NEW_ATTR\n']))).rejects.toThrow(
      'the CSV header names components the data structure does not have: NEW_ATTR',
    );
  });

  it('rolls the transaction back: nothing of the message stays', async () => {
    await loadBase();
    await expect(applyText('D,,,,,,,,', 'R,A,,2021,1,,,,')).rejects.toThrow('line 3');
    expect(await content()).toEqual(base());
  });
});

describe('referential metadata', () => {
  const META_HEADER = 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,SOURCE,CONTACT.NAME,CONTACT.EMAIL\n';
  async function applyMeta(...lines: string[]): Promise<void> {
    const message = await openSdmxCsv(Readable.from([META_HEADER + lines.map((line) => ROW + line + '\n').join('')]), {
      knownComponents: new Set([...structure.dimensions, ...structure.metadataAttributes]),
    });
    const mapper = new SdmxMetadataMapper(structure, layout, message.header, { label: 'meta', onDataflowDelete: (line) => dataflowDeletes.push(line) });
    await store.transaction(async (tx) => {
      for await (const rows of message.batches) await tx.apply(mapper.map(rows));
    });
  }
  const meta = async () =>
    (await store.readTable('td_meta')).map((row) => [row.DIM_1, row.DIM_2, row.TIME_PERIOD, row.SOURCE, row.CONTACT, row.CONTACT_NAME, row.CONTACT_EMAIL]);

  it('stores each attachment keyed by every dimension, ~ as an empty string; R replaces, M merges', async () => {
    await applyMeta('R,~,~,~,Whole flow,Ann,', 'R,~,B,~,About B,,b@x', 'R,A,B,~,Series,Bob,', 'M,~,B,~,,Bea,', 'R,A,B,~,,,bob@x');
    expect(await meta()).toEqual([
      ['', '', '', 'Whole flow', null, 'Ann', null],
      ['', 'B', '', 'About B', null, 'Bea', 'b@x'],
      ['A', 'B', '', null, null, null, 'bob@x'],
    ]);
  });

  it('R without any value deletes the attachment; D deletes by scope, ~ matching only unattached, omitted matching any', async () => {
    await applyMeta('R,~,~,~,F,,', 'R,~,B,~,B,,', 'R,A,B,~,AB,,', 'R,C,B,~,CB,,', 'R,A,A,~,AA,,');
    await applyMeta('R,C,B,~,,,', 'D,~,B,~,,,', 'D,,A,,*,,');
    expect(await meta()).toEqual([
      ['', '', '', 'F', null, null, null],
      ['A', 'B', '', 'AB', null, null, null],
    ]);
    await applyMeta('D,,B,,,,');
    expect(await meta()).toEqual([['', '', '', 'F', null, null, null]]);
    expect(dataflowDeletes).toEqual([]);
    await applyMeta('D,,,,,,');
    expect(await meta()).toEqual([]);
    expect(dataflowDeletes).toEqual([2]);
  });

  it('D with "*" in a dimension deletes what is attached to any value of it, never what is not attached there', async () => {
    await applyMeta('R,~,~,~,F,,', 'R,~,B,~,B,,', 'R,A,B,~,AB,,', 'R,C,B,~,CB,,', 'R,A,A,~,AA,,', 'R,A,~,~,A,,');
    await applyMeta('D,*,B,~,,,');
    expect(await meta()).toEqual([
      ['', '', '', 'F', null, null, null],
      ['', 'B', '', 'B', null, null, null],
      ['A', '', '', 'A', null, null, null],
      ['A', 'A', '', 'AA', null, null, null],
    ]);
    // With a component marked, only that value goes, and only where the dimension is attached.
    await applyMeta('R,~,B,~,B,Bea,', 'R,A,~,~,A,Al,');
    await applyMeta('D,*,,~,*,,');
    expect(await meta()).toEqual([
      ['', '', '', 'F', null, null, null],
      ['', 'B', '', 'B', null, 'Bea', null],
      ['A', '', '', null, null, 'Al', null],
    ]);
  });

  it('stores a multilingual value with .Stat\'s backslash-escaped quotes verbatim', async () => {
    await applyMeta('R,~,~,~,"en: ""<a href=\\""mailto:s@x.org\\"">S</a>"",fr: ""F""",,');
    expect((await meta())[0]?.[3]).toBe('en: "<a href=\\"mailto:s@x.org\\">S</a>",fr: "F"');
  });

  it('D with some attributes marked deletes only those, leaving the attachment\'s other values', async () => {
    await applyMeta('R,~,B,~,About B,Bea,', 'R,A,B,~,About AB,Al,');
    await applyMeta('D,~,B,~,*,,');
    expect(await meta()).toEqual([
      ['', 'B', '', null, null, 'Bea', null],
      ['A', 'B', '', 'About AB', null, 'Al', null],
    ]);
  });
});
