import { readFileSync } from 'node:fs';
import { Settings } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { runStream } from '../../../src/runner/run-stream.js';
import type { DataflowDefinition } from '../../../src/simulators/nsi/dataflow-structure.js';
import type { HostedDataflow } from '../../../src/simulators/nsi/hosted-dataflow.js';
import { startNsiSimulator, type NsiSettings, type NsiSimulator } from '../../../src/simulators/nsi/nsi-simulator.js';
import type { NsiSnapshot, SnapshotEntry } from '../../../src/simulators/nsi/snapshot.js';
import { SdmxSource, type SdmxStreamMode } from '../../../src/sources/sdmx/sdmx-source.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from '../../helpers/silent-log.js';
import { tempSqliteStore } from '../../helpers/stores.js';

/** The DSD of .Stat's delete examples, with referential metadata, hosted by the simulator. */
const DEFINITION: DataflowDefinition = {
  agency: 'OECD',
  id: 'DF_TEST_DELETE',
  version: '1.0',
  dimensions: ['DIM_1', 'DIM_2'],
  timeDimension: 'TIME_PERIOD',
  measures: ['OBS_VALUE'],
  groups: [{ id: 'GR', dimensions: ['DIM_2'] }],
  attributes: [
    { id: 'OBS_ATTR', attachment: 'observation' },
    { id: 'TS_ATTR', attachment: 'series' },
    { id: 'GR_ATTR', attachment: { group: 'GR' } },
    { id: 'DF_ATTR', attachment: 'dataflow' },
  ],
  metadata: { attributes: ['NOTE', 'SOURCE'] },
};
const REF = 'OECD:DF_TEST_DELETE(1.0)';

/** The .Stat sample base data (CSV 1.0) turned into an SDMX-CSV 2.0 upload. */
function baseUpload(): string {
  const [, ...rows] = readFileSync(new URL('../../fixtures/sdmx/OECD-DF_TEST_DELETE-1.0-all_data.csv', import.meta.url), 'utf8').trim().split('\n');
  return (
    'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR\n' +
    rows.map((row) => `dataflow,${REF},I,${row.slice(row.indexOf(',') + 1)}`).join('\n') +
    '\n'
  );
}

let clock = new Date('2024-05-01T08:00:00Z');
/** The clock at each syncBoth: each sync's watermark is its clock minus the 5-minute overlap. */
let syncTimes: Date[] = [];
const defaultZone = Settings.defaultZone;
let nsi: NsiSimulator;
let flow: HostedDataflow;
let store: SqliteStore;
let cleanup: () => Promise<void>;
let http: UndiciHttpClient;

async function start(settings: Partial<NsiSettings> = {}): Promise<void> {
  nsi = await startNsiSimulator({ clock: () => clock, settings });
  flow = nsi.dataSpace.defineDataflow(DEFINITION);
}

beforeEach(async () => {
  clock = new Date('2024-05-01T08:00:00Z');
  syncTimes = [];
  ({ store, cleanup } = await tempSqliteStore());
  http = createHttpClient({ maxRetries: 0 });
});

afterEach(async () => {
  Settings.defaultZone = defaultZone;
  await http.close();
  await nsi?.close();
  await cleanup();
});

const tick = (minutes: number): void => {
  clock = new Date(clock.getTime() + minutes * 60_000);
};

function source(mode: SdmxStreamMode, api: 'v1' | 'v2' = 'v1', structureFormat: 'json' | 'xml' | 'auto' = 'auto'): SdmxSource {
  return new SdmxSource({
    id: `sdmx:sim:${REF}:${mode === 'data' ? 'data' : 'meta'}`,
    jobId: 'sim',
    mode,
    endpoint: nsi.url,
    api,
    dataflow: { agency: 'OECD', id: 'DF_TEST_DELETE', version: '1.0' },
    prefix: 'sim',
    overlapMs: 5 * 60_000,
    structureFormat,
    now: () => clock,
  });
}

async function syncBoth(api: 'v1' | 'v2' = 'v1', structureFormat: 'json' | 'xml' | 'auto' = 'auto'): Promise<void> {
  tick(1);
  syncTimes.push(clock);
  const signal = new AbortController().signal;
  const { log } = memoryLogger('warn');
  await runStream({ store, source: source('data', api, structureFormat), http, log, signal });
  await runStream({ store, source: source('metadata', api, structureFormat), http, log, signal });
  tick(1);
}

/** The mirror in the simulator's canonical snapshot form, to compare cell for cell. */
async function mirror(): Promise<NsiSnapshot> {
  const entries = (rows: Record<string, unknown>[], keys: string[], values: string[], unattached?: string): SnapshotEntry[] =>
    rows
      .map((row) => ({
        key: keys.map((id) => (unattached !== undefined && row[id] === '' ? unattached : String(row[id]))),
        values: Object.fromEntries(values.filter((id) => row[id] !== null).map((id) => [id, String(row[id])])),
      }))
      .sort((a, b) => (a.key.join('\u0000') < b.key.join('\u0000') ? -1 : 1));
  const dataset = await store.readTable('sim_dataset_attr');
  return {
    observations: entries(await store.readTable('sim_obs'), ['DIM_1', 'DIM_2', 'TIME_PERIOD'], ['OBS_VALUE', 'OBS_ATTR']),
    attributes: {
      GR: entries(await store.readTable('sim_attr_gr'), ['DIM_2'], ['GR_ATTR']),
      series: entries(await store.readTable('sim_attr_series'), ['DIM_1', 'DIM_2'], ['TS_ATTR']),
    },
    dataflowAttributes: dataset[0]?.DF_ATTR == null ? {} : { DF_ATTR: String(dataset[0].DF_ATTR) },
    metadata: entries(await store.readTable('sim_meta'), ['DIM_1', 'DIM_2', 'TIME_PERIOD'], ['NOTE', 'SOURCE'], '~'),
  };
}

/** A sequence of changes at every level, each followed by a sync whose result must equal the simulator's content. */
async function scenario(api: 'v1' | 'v2' = 'v1', structureFormat: 'json' | 'xml' | 'auto' = 'auto'): Promise<void> {
  flow.upload(baseUpload());
  flow.mergeMetadata({ DIM_1: '~', DIM_2: '~', TIME_PERIOD: '~' }, { NOTE: 'whole dataflow', SOURCE: 'OECD' });
  flow.mergeMetadata({ DIM_1: '~', DIM_2: 'B', TIME_PERIOD: '~' }, { NOTE: 'about B' });
  tick(10);
  await syncBoth(api, structureFormat);
  expect((await mirror()).observations).toHaveLength(27);
  expect(await mirror()).toEqual(flow.snapshot());

  const steps: (() => void)[] = [
    () => flow.replaceObservation({ DIM_1: 'A', DIM_2: 'A', TIME_PERIOD: '2020' }, { OBS_VALUE: '1' }),
    () => flow.deleteData({ DIM_2: 'B' }),
    () => flow.deleteData({ DIM_1: 'C', DIM_2: 'C', TIME_PERIOD: '2021' }, ['OBS_VALUE']),
    () => flow.setAttribute('TS_ATTR', { DIM_1: 'A', DIM_2: 'C' }, 'new series value'),
    () => flow.deleteAttribute('GR_ATTR', { DIM_2: 'A' }),
    () => flow.setAttribute('DF_ATTR', {}, 'DF2'),
    () => flow.upload(`STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR\ndataflow,${REF},R,D,B,2023,NaN,"",DB,GB2,\n`),
    () => flow.deleteData({}, ['DF_ATTR']),
    () => flow.deleteMetadata({ DIM_1: '~', DIM_2: 'B', TIME_PERIOD: '~' }),
    () => flow.replaceMetadata({ DIM_1: 'A', DIM_2: '~', TIME_PERIOD: '~' }, { SOURCE: 'national' }),
    () => flow.deleteData({ DIM_1: 'A' }),
  ];
  for (const step of steps) {
    step();
    tick(3);
    await syncBoth(api, structureFormat);
    expect(await mirror()).toEqual(flow.snapshot());
  }
}

describe('SDMX source against the NSI simulator', () => {
  it('mirrors the dataflow and its metadata exactly after each change (v1 paths, JSON structures, 404 NoRecordsFound)', async () => {
    // A zone east of UTC, whatever the machine's: every updatedAfter then carries a `+` offset,
    // which the simulator (like a real NSI) misreads unless it travels as %2B.
    Settings.defaultZone = 'Asia/Kolkata';
    await start();
    await scenario();
    for (const stream of ['data', 'metadata']) {
      const requests = nsi.requests.filter((request) => request.url.includes('/data/') && request.url.includes('attributes=msd') === (stream === 'metadata'));
      expect(requests).toHaveLength(syncTimes.length);
      expect(requests[0]?.url).not.toContain('updatedAfter');
      requests.slice(1).forEach((request, index) => {
        const sent = /[?&]updatedAfter=([^&]*)/.exec(request.url)?.[1];
        expect(sent).toMatch(/^2024-05-01T\d\d%3A\d\d%3A\d\d%2B05%3A30$/);
        expect(new Date(decodeURIComponent(sent as string)).getTime()).toBe((syncTimes[index] as Date).getTime() - 5 * 60_000);
        expect(request.status).not.toBe(400);
      });
    }
  });

  it('mirrors it through the v2 paths, SDMX-ML structures only, 204 for no rows, "-" delete markers and attributes repeated on observation rows', async () => {
    await start({ emptyStatus: 204, structureFormats: ['xml21'], deleteMarker: '-', attributesOnObservationRows: true, fullLoadAction: 'I', structureLabel: 'DATAFLOW' });
    await scenario('v2', 'auto');
    expect(nsi.requests.some((request) => request.status === 406)).toBe(true);
  });

  it('a second sync without changes gets nothing and keeps the mirror', async () => {
    await start();
    flow.upload(baseUpload());
    tick(10);
    await syncBoth();
    const before = await mirror();
    tick(30);
    await syncBoth();
    expect(await mirror()).toEqual(before);
    expect(nsi.requests.filter((request) => request.url.includes('/data/')).at(-1)?.status).toBe(404);
  });
});
