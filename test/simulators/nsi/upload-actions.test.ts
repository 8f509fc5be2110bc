import { describe, expect, it } from 'vitest';
import { DataSpace } from '../../../src/simulators/nsi/data-space.js';
import type { HostedDataflow } from '../../../src/simulators/nsi/hosted-dataflow.js';
import type { NsiSnapshot, SnapshotEntry } from '../../../src/simulators/nsi/snapshot.js';
import { NsiUploadError } from '../../../src/simulators/nsi/upload.js';
import { BASE_DATA, DF_TEST_DELETE, fixture, message } from './test-dataflows.js';

/** The base state of the .Stat delete examples, written out from the fixture by hand-simple parsing. */
function baseSnapshot(): NsiSnapshot {
  const rows = fixture(BASE_DATA)
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(','));
  const series = new Map<string, SnapshotEntry>();
  const groups = new Map<string, SnapshotEntry>();
  for (const [, d1, d2, , , , ts, gr] of rows) {
    series.set(`${d1}${d2}`, { key: [d1!, d2!], values: { TS_ATTR: ts! } });
    groups.set(d2!, { key: [d2!], values: { GR_ATTR: gr! } });
  }
  return {
    observations: rows.map(([, d1, d2, t, v, oa]) => ({ key: [d1!, d2!, t!], values: { OBS_VALUE: v!, OBS_ATTR: oa! } })),
    attributes: { GR: [...groups.values()], series: [...series.values()] },
    dataflowAttributes: { DF_ATTR: 'DF' },
    metadata: [],
  };
}

interface Change {
  obs?: (e: SnapshotEntry) => SnapshotEntry | undefined;
  series?: (e: SnapshotEntry) => boolean;
  group?: (e: SnapshotEntry) => boolean;
  dropDataflowAttributes?: boolean;
}

function expected(change: Change): NsiSnapshot {
  const base = baseSnapshot();
  return {
    observations: base.observations.map((e) => (change.obs ? change.obs(e) : e)).filter((e): e is SnapshotEntry => e !== undefined),
    attributes: {
      GR: base.attributes.GR!.filter((e) => change.group?.(e) ?? true),
      series: base.attributes.series!.filter((e) => change.series?.(e) ?? true),
    },
    dataflowAttributes: change.dropDataflowAttributes ? {} : base.dataflowAttributes,
    metadata: [],
  };
}

function loaded(): HostedDataflow {
  const flow = new DataSpace(() => new Date('2024-01-01T00:00:00Z')).defineDataflow(DF_TEST_DELETE);
  flow.upload(fixture(BASE_DATA));
  return flow;
}

const isB = (e: SnapshotEntry): boolean => e.key[1] === 'B';
const isAB = (e: SnapshotEntry): boolean => e.key[0] === 'A' && e.key[1] === 'B';
const isAB2021 = (e: SnapshotEntry): boolean => isAB(e) && e.key[2] === '2021';

describe('the .Stat delete matrix (docs/sdmx.md) applied to the DF_TEST_DELETE base data', () => {
  it('loads the SDMX-CSV 1.0 base file as Merge rows', () => {
    expect(loaded().snapshot()).toEqual(baseSnapshot());
  });

  const matrix: [string, string, Change][] = [
    ['D,,,,,,,,', 'whole content of the dataflow', { obs: () => undefined, series: () => false, group: () => false, dropDataflowAttributes: true }],
    ['D,,,,*,*,,,', 'all observations and their observation-level attributes', { obs: () => undefined }],
    ['D,,,,,,,,*', 'attributes attached at dataflow level', { dropDataflowAttributes: true }],
    ['D,,B,,,,,,', 'everything related to DIM_2=B', { obs: (e) => (isB(e) ? undefined : e), series: (e) => !isB(e), group: (e) => e.key[0] !== 'B' }],
    ['D,,B,,*,*,*,*,', 'everything related to DIM_2=B (way 2)', { obs: (e) => (isB(e) ? undefined : e), series: (e) => !isB(e), group: (e) => e.key[0] !== 'B' }],
    ['D,,B,,,,,*,', 'the group attribute attached to DIM_2=B', { group: (e) => e.key[0] !== 'B' }],
    ['D,A,B,,,,,,', 'the whole time series A.B (not the group B)', { obs: (e) => (isAB(e) ? undefined : e), series: (e) => !isAB(e) }],
    ['D,A,B,,,,*,,', 'the attributes attached to time series A.B', { series: (e) => !isAB(e) }],
    ['D,A,B,2021,,,,,', 'observation A.B.2021', { obs: (e) => (isAB2021(e) ? undefined : e) }],
    ['D,A,B,2021,*,*,,,', 'observation A.B.2021 (by its values)', { obs: (e) => (isAB2021(e) ? undefined : e) }],
    ['D,A,B,2021,*,,,,', 'the observation value of A.B.2021 only', { obs: (e) => (isAB2021(e) ? { key: e.key, values: { OBS_ATTR: 'B' } } : e) }],
    ['D,A,B,2021,-,,,,', 'the observation value, marked with a dash', { obs: (e) => (isAB2021(e) ? { key: e.key, values: { OBS_ATTR: 'B' } } : e) }],
    ['D,A,B,,,,,*,', 'nothing: group B is not inside the scope of series A.B', {}],
    ['D,Z,,,,,,,', 'nothing: deleting what does not exist is no error', {}],
  ];
  for (const [row, what, change] of matrix) {
    it(`${row} deletes ${what}`, () => {
      const flow = loaded();
      flow.upload(message(row));
      expect(flow.snapshot()).toEqual(expected(change));
    });
  }

  const files: [string, Change][] = [
    ['OECD-DF_TEST_DELETE-1.0-case_1__delete_whole_content_of_the_dataflow.csv', { obs: () => undefined, series: () => false, group: () => false, dropDataflowAttributes: true }],
    ['OECD-DF_TEST_DELETE-1.0-case_6-2__delete_everything_related_to_DIM_2_B_way2.csv', { obs: (e) => (isB(e) ? undefined : e), series: (e) => !isB(e), group: (e) => e.key[0] !== 'B' }],
    ['OECD-DF_TEST_DELETE-1.0-case_11__delete_the_attributes_attached_to_time_series_DIM_1_A_DIM_2_B.csv', { series: (e) => !isAB(e) }],
    ['OECD-DF_TEST_DELETE-1.0-case_14__delete_observation_value_attached_to_key_DIM_1_A_DIM_2_B_TIME_PERIOD_2021.csv', { obs: (e) => (isAB2021(e) ? { key: e.key, values: { OBS_ATTR: 'B' } } : e) }],
  ];
  for (const [file, change] of files) {
    it(`applies the .Stat example ${file.replace(/^OECD-DF_TEST_DELETE-1\.0-/, '')}`, () => {
      const flow = loaded();
      flow.upload(fixture(file));
      expect(flow.snapshot()).toEqual(expected(change));
    });
  }

  it('removes an observation whose last value goes through successive partial deletes', () => {
    const flow = loaded();
    flow.upload(message('D,A,B,2021,*,,,,'));
    flow.upload(message('D,A,B,2021,,*,,,'));
    expect(flow.snapshot()).toEqual(expected({ obs: (e) => (isAB2021(e) ? undefined : e) }));
  });
});

describe('Merge and Replace uploads', () => {
  it('merges I, A, M and ACTION-less rows: only the cells given change', () => {
    const flow = loaded();
    flow.upload(message('I,A,A,2020,1,,,,', 'A,A,A,2021,,X,,,', 'M,A,A,2022,3,,,,'));
    flow.upload(['STRUCTURE,STRUCTURE_ID,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE', 'dataflow,OECD:DF_TEST_DELETE(1.0),C,C,2023,9'].join('\n'));
    const obs = flow.snapshot().observations;
    expect(obs.find((e) => e.key.join() === 'A,A,2020')?.values).toEqual({ OBS_VALUE: '1', OBS_ATTR: 'A' });
    expect(obs.find((e) => e.key.join() === 'A,A,2021')?.values).toEqual({ OBS_VALUE: '2345', OBS_ATTR: 'X' });
    expect(obs.find((e) => e.key.join() === 'A,A,2022')?.values).toEqual({ OBS_VALUE: '3', OBS_ATTR: 'C' });
    expect(obs.find((e) => e.key.join() === 'C,C,2023')?.values).toEqual({ OBS_VALUE: '9' });
  });

  it('replaces an observation whole: omitted observation-level values become null, higher-level cells merge', () => {
    const flow = loaded();
    flow.upload(message('R,A,A,2020,7,,TS_NEW,,'));
    const snapshot = flow.snapshot();
    expect(snapshot.observations.find((e) => e.key.join() === 'A,A,2020')?.values).toEqual({ OBS_VALUE: '7' });
    expect(snapshot.attributes.series!.find((e) => e.key.join() === 'A,A')?.values).toEqual({ TS_ATTR: 'TS_NEW' });
    expect(snapshot.attributes.GR!.find((e) => e.key.join() === 'A')?.values).toEqual({ GR_ATTR: 'A' });
    expect(snapshot.dataflowAttributes).toEqual({ DF_ATTR: 'DF' });
  });

  it('deletes an observation replaced with no value at all', () => {
    const flow = loaded();
    flow.upload(message('R,A,B,2021,,,,,'));
    expect(flow.snapshot()).toEqual(expected({ obs: (e) => (isAB2021(e) ? undefined : e) }));
  });

  it('merges attributes of partial-key rows (R or M) and dataflow-level rows', () => {
    const flow = loaded();
    flow.upload(message('R,,C,,,,,GC,', 'M,B,B,,,,TS_BB,,', 'R,,,,,,,,DF2', 'M,Q,Q,,,,TS_QQ,GQ,'));
    const snapshot = flow.snapshot();
    expect(snapshot.attributes.GR!.map((e) => [e.key.join(), e.values.GR_ATTR])).toEqual([
      ['A', 'A'],
      ['B', 'B'],
      ['C', 'GC'],
      ['Q', 'GQ'],
    ]);
    expect(snapshot.attributes.series!.find((e) => e.key.join() === 'B,B')?.values).toEqual({ TS_ATTR: 'TS_BB' });
    expect(snapshot.attributes.series!.find((e) => e.key.join() === 'Q,Q')?.values).toEqual({ TS_ATTR: 'TS_QQ' });
    expect(snapshot.dataflowAttributes).toEqual({ DF_ATTR: 'DF2' });
    expect(snapshot.observations).toEqual(baseSnapshot().observations);
  });

  it('keeps a quoted empty cell as a present empty string, apart from an omitted cell', () => {
    const flow = loaded();
    flow.upload(message('M,A,A,2020,"",,,,', 'R,A,A,2021,,"",,,'));
    const obs = flow.snapshot().observations;
    expect(obs.find((e) => e.key.join() === 'A,A,2020')?.values).toEqual({ OBS_VALUE: '', OBS_ATTR: 'A' });
    expect(obs.find((e) => e.key.join() === 'A,A,2021')?.values).toEqual({ OBS_ATTR: '' });
  });

  it('applies rows in file order: a delete-all followed by inserts replaces everything', () => {
    const flow = loaded();
    flow.upload(message('D,,,,,,,,', 'I,X,Y,2020,1,,,,', 'I,X,Y,,,,TS,,'));
    expect(flow.snapshot()).toEqual({
      observations: [{ key: ['X', 'Y', '2020'], values: { OBS_VALUE: '1' } }],
      attributes: { GR: [], series: [{ key: ['X', 'Y'], values: { TS_ATTR: 'TS' } }] },
      dataflowAttributes: {},
      metadata: [],
    });
  });

  it('reads values with delimiters, quotes and line breaks, and a semicolon-delimited message', () => {
    const flow = loaded();
    flow.upload(message('M,A,A,2020,"1,5","say ""hi""\nthere",,,'));
    flow.upload('STRUCTURE;STRUCTURE_ID;ACTION;DIM_1;DIM_2;TIME_PERIOD;OBS_VALUE\r\ndataflow;OECD:DF_TEST_DELETE(1.0);M;A;A;2021;2,5\r\n');
    const obs = flow.snapshot().observations;
    expect(obs.find((e) => e.key.join() === 'A,A,2020')?.values).toEqual({ OBS_VALUE: '1,5', OBS_ATTR: 'say "hi"\nthere' });
    expect(obs.find((e) => e.key.join() === 'A,A,2021')?.values).toEqual({ OBS_VALUE: '2,5', OBS_ATTR: 'B' });
  });
});

describe('upload errors', () => {
  const cases: [string, string, RegExp][] = [
    ['an observation value on a partial key', message('M,A,B,,5,,,,'), /row 2: OBS_VALUE is an observation-level value and needs every dimension/],
    ['a series attribute without its series key', message('M,,B,,,,TS,,'), /row 2: attribute TS_ATTR is attached to series and needs DIM_1/],
    ['an unknown action', message('I,A,A,2020,1,,,,', 'X,A,A,2020,1,,,,'), /row 3: unknown ACTION "X"/],
    ['an unknown column', 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_X\ndataflow,OECD:DF_TEST_DELETE(1.0),I,A,B\n', /column 5 "DIM_X" is not a component/],
    ['another dataflow', message('I,A,A,2020,1,,,,').replace('DF_TEST_DELETE(1.0)', 'OTHER(1.0)'), /row 2: STRUCTURE_ID is "OECD:OTHER\(1\.0\)"/],
    ['too many cells', message('I,A,A,2020,1,,,,,x'), /row 2: 12 cells for 11 columns/],
    ['a switched-off dimension in data', message('M,~,A,2020,1,,,,'), /DIM_1 has an invalid value "~"/],
    ['data and metadata together', 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,NOTE\n', /cannot be uploaded together/],
  ];
  for (const [what, text, error] of cases) {
    it(`rejects ${what} and changes nothing`, () => {
      const flow = loaded();
      expect(() => flow.upload(text)).toThrow(NsiUploadError);
      expect(() => flow.upload(text)).toThrow(error);
      expect(flow.snapshot()).toEqual(baseSnapshot());
    });
  }
});

describe('change times', () => {
  it('gives every upload a later time than the last even when the clock stands still, and one time to all its rows', () => {
    const flow = new DataSpace(() => new Date('2024-01-01T00:00:00Z')).defineDataflow(DF_TEST_DELETE);
    const first = flow.upload(message('I,A,A,2020,1,,,,', 'I,A,A,2021,1,,,,'));
    const second = flow.mergeObservation({ DIM_1: 'A', DIM_2: 'A', TIME_PERIOD: '2022' }, { OBS_VALUE: '1' });
    expect(first.at).toBe(Date.parse('2024-01-01T00:00:00Z'));
    expect(second.at).toBe(first.at + 1);
    const times = [...flow.content.observations.values()].map((o) => o.changedAt);
    expect(times).toEqual([first.at, first.at, second.at]);
  });

  it('keeps every deletion as a tombstone with its time, in time order', () => {
    let now = Date.parse('2024-01-01T00:00:00Z');
    const flow = new DataSpace(() => new Date(now)).defineDataflow(DF_TEST_DELETE);
    flow.upload(fixture(BASE_DATA));
    now += 1000;
    const a = flow.upload(message('D,,B,,,,,,'));
    now += 1000;
    const b = flow.deleteObservation({ DIM_1: 'A', DIM_2: 'A', TIME_PERIOD: '2020' });
    flow.deleteObservation({ DIM_1: 'A', DIM_2: 'A', TIME_PERIOD: '2020' });
    expect(flow.content.tombstones).toEqual([
      { at: a.at, scope: [undefined, 'B', undefined], components: 'all' },
      { at: b.at, scope: ['A', 'A', '2020'], components: 'all' },
    ]);
  });
});

describe('referential metadata uploads', () => {
  const header = 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,NOTE,SOURCE';
  const meta = (...rows: string[]): string => [header, ...rows.map((r) => `dataflow,OECD:DF_TEST_DELETE(1.0),${r}`)].join('\n');

  it('merges, replaces and deletes attachments with omitted, *, ~ and value dimensions', () => {
    const flow = loaded();
    flow.upload(meta('M,~,~,~,flow note,', 'M,~,B,~,B note,src B', 'M,A,B,~,AB note,', 'M,A,B,2021,obs note,src'));
    flow.upload(meta('R,~,B,~,,src B2', 'M,A,B,~,,src AB'));
    expect(flow.snapshot().metadata).toEqual([
      { key: ['A', 'B', '2021'], values: { NOTE: 'obs note', SOURCE: 'src' } },
      { key: ['A', 'B', '~'], values: { NOTE: 'AB note', SOURCE: 'src AB' } },
      { key: ['~', 'B', '~'], values: { SOURCE: 'src B2' } },
      { key: ['~', '~', '~'], values: { NOTE: 'flow note' } },
    ]);
    flow.upload(meta('D,*,B,,,*'));
    expect(flow.snapshot().metadata).toEqual([
      { key: ['A', 'B', '2021'], values: { NOTE: 'obs note' } },
      { key: ['A', 'B', '~'], values: { NOTE: 'AB note' } },
      { key: ['~', 'B', '~'], values: { SOURCE: 'src B2' } },
      { key: ['~', '~', '~'], values: { NOTE: 'flow note' } },
    ]);
    flow.upload(meta('D,~,~,~,,'));
    flow.upload(meta('D,,B,~,,'));
    expect(flow.snapshot().metadata).toEqual([{ key: ['A', 'B', '2021'], values: { NOTE: 'obs note' } }]);
    flow.upload(meta('R,A,B,2021,,'));
    expect(flow.snapshot().metadata).toEqual([]);
  });

  it('refuses an omitted or * dimension in a Merge or Replace of metadata', () => {
    const flow = loaded();
    expect(() => flow.upload(meta('M,,B,~,x,'))).toThrow(/row 2: DIM_1 must be a value or ~/);
    expect(() => flow.upload(meta('R,*,B,~,x,'))).toThrow(/row 2: DIM_1 must be a value or ~/);
  });

  it('applies an ACTION-less SDMX-CSV 1.0 metadata message as Replace', () => {
    const flow = loaded();
    flow.mergeMetadata({ DIM_1: '~', DIM_2: 'A', TIME_PERIOD: '~' }, { NOTE: 'n', SOURCE: 's' });
    flow.upload('DATAFLOW,DIM_1,DIM_2,TIME_PERIOD,NOTE\nOECD:DF_TEST_DELETE(1.0),~,A,~,n2\n');
    expect(flow.snapshot().metadata).toEqual([{ key: ['~', 'A', '~'], values: { NOTE: 'n2' } }]);
  });
});
