import type { StreamSource } from '../../src/core/source.js';
import type { SqlValue } from '../../src/core/tables.js';
import { mirrorSnapshot } from '../../src/cli/demo/sdmx-part.js';
import { startFaultProxy, type FaultProxy } from '../../src/simulators/fault-proxy/fault-proxy.js';
import type { HostedDataflow } from '../../src/simulators/nsi/hosted-dataflow.js';
import { startNsiSimulator, type NsiSimulator } from '../../src/simulators/nsi/nsi-simulator.js';
import { startOdsSimulator, type OdsSimulator } from '../../src/simulators/ods/ods-simulator.js';
import { startRpdePublisher, type RpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { OdsCatalogSource } from '../../src/sources/ods/catalog-source.js';
import { OdsRecordsSource } from '../../src/sources/ods/records-source.js';
import { RpdeFeedSource } from '../../src/sources/rpde/rpde-source.js';
import { SdmxSource } from '../../src/sources/sdmx/sdmx-source.js';
import { StoreSchemaError, type Store } from '../../src/store/store.js';
import { mirrorRows as odsMirrorRows, portalRows } from '../../src/simulators/ods/mirror-rows.js';

export type TestbedKind = 'sdmx' | 'rpde' | 'ods-catalog' | 'ods-records';
export const TESTBED_KINDS: readonly TestbedKind[] = ['sdmx', 'rpde', 'ods-catalog', 'ods-records'];

/**
 * One kind of source behind the fault proxy: its simulator, the proxy in front of it, the stream
 * that mirrors it (in-process, or as a job of a daemon's config), ways to change it, and what its
 * mirror must hold. The hardening tests run every fault and every kill against each of them alike.
 */
export interface Testbed {
  readonly kind: TestbedKind;
  readonly proxy: FaultProxy;
  /** The stream, configured with the proxy's address. */
  readonly source: StreamSource;
  /** The job that mirrors the same stream in a daemon's config. */
  readonly job: Record<string, unknown>;
  /** The id of that job's stream. */
  readonly streamId: string;
  /** The requests whose answers carry the changes (where body faults land). */
  readonly dataRequests: RegExp;
  /** Changes the source a little (inserts, edits, deletes), differently each round. */
  change(round: number): void;
  /** What the mirror must hold now, in a canonical form. */
  expected(): unknown;
  /** What the mirror holds, in the same form; `undefined` before the first sync made its tables. */
  mirrored(store: Store): Promise<unknown>;
  close(): Promise<void>;
}

/** `id` names the job (and so its tables and streams): testbeds of one store need distinct ids. */
export async function startTestbed(kind: TestbedKind, id = kind.replace('-', '_')): Promise<Testbed> {
  const proxy = await startFaultProxy();
  try {
    switch (kind) {
      case 'sdmx':
        return await sdmxTestbed(proxy, id);
      case 'rpde':
        return await rpdeTestbed(proxy, id);
      case 'ods-catalog':
      case 'ods-records':
        return await odsTestbed(kind, proxy, id);
    }
  } catch (error) {
    await proxy.close();
    throw error;
  }
}

/** Rows of a table, or undefined when the table does not exist yet. */
async function rowsOrNothing<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof StoreSchemaError) return undefined;
    throw error;
  }
}

const AREAS = ['FR', 'DE', 'IT', 'ES', 'NL', 'BE'];
const YEARS = ['2018', '2019', '2020', '2021', '2022', '2023'];

async function sdmxTestbed(proxy: FaultProxy, id: string): Promise<Testbed> {
  const nsi: NsiSimulator = await startNsiSimulator();
  proxy.forwardTo(new URL(nsi.url).origin);
  const flow: HostedDataflow = nsi.dataSpace.defineDataflow({
    agency: 'HARD',
    id: `DF_${id.toUpperCase()}`,
    version: '1.0',
    dimensions: ['FREQ', 'REF_AREA'],
    measures: ['OBS_VALUE'],
    attributes: [
      { id: 'UNIT_MEASURE', attachment: 'series' },
      { id: 'OBS_STATUS', attachment: 'observation' },
      { id: 'DECIMALS', attachment: 'dataflow' },
    ],
  });
  flow.batch((m) => {
    m.setAttribute('DECIMALS', {}, '0');
    for (const area of AREAS) {
      m.setAttribute('UNIT_MEASURE', { FREQ: 'A', REF_AREA: area }, 'PERSON');
      for (const year of YEARS) m.mergeObservation({ FREQ: 'A', REF_AREA: area, TIME_PERIOD: year }, { OBS_VALUE: `${area}-${year}-0`, OBS_STATUS: 'A' });
    }
  });
  const ref = flow.structure.ref;
  const prefix = id;
  const source = new SdmxSource({
    id: `sdmx:${id}:${ref}:data`,
    jobId: id,
    mode: 'data',
    endpoint: `${proxy.origin}/rest`,
    api: 'v1',
    dataflow: { agency: flow.structure.agency, id: flow.structure.id, version: flow.structure.version },
    prefix,
    // Re-reading a minute is harmless; it keeps a change made in the same millisecond as a query in the next window.
    overlapMs: 60_000,
    structureFormat: 'auto',
  });
  return {
    kind: 'sdmx',
    proxy,
    source,
    job: { id, kind: 'sdmx', endpoint: `${proxy.origin}/rest`, dataflows: [{ ref, prefix }], overlap: '1m' },
    streamId: source.id,
    dataRequests: /\/data\//,
    change(round) {
      const area = AREAS[round % AREAS.length] as string;
      const year = YEARS[round % YEARS.length] as string;
      const gone = AREAS[(round + 3) % AREAS.length] as string;
      flow.batch((m) => {
        m.replaceObservation({ FREQ: 'A', REF_AREA: area, TIME_PERIOD: year }, { OBS_VALUE: `${area}-${year}-${round}`, OBS_STATUS: round % 2 === 0 ? 'P' : 'E' });
        if (round % 3 === 1) m.deleteData({ FREQ: 'A', REF_AREA: gone });
        else {
          m.setAttribute('UNIT_MEASURE', { FREQ: 'A', REF_AREA: gone }, round % 2 === 0 ? 'PERSON' : 'NIGHT');
          for (const y of YEARS) m.mergeObservation({ FREQ: 'A', REF_AREA: gone, TIME_PERIOD: y }, { OBS_VALUE: `${gone}-${y}-${round}` });
        }
        m.mergeObservation({ FREQ: 'Q', REF_AREA: area, TIME_PERIOD: `${year}-Q${(round % 4) + 1}` }, { OBS_VALUE: String(round) });
        if (round % 5 === 0) m.setAttribute('DECIMALS', {}, String(round % 3));
      });
    },
    expected: () => flow.snapshot(),
    mirrored: (store) => rowsOrNothing(() => mirrorSnapshot(store, prefix, flow.structure, false)),
    close: async () => {
      await proxy.close();
      await nsi.close();
    },
  };
}

async function rpdeTestbed(proxy: FaultProxy, id: string): Promise<Testbed> {
  // Its `next` URLs are written with the proxy's origin, so every page goes through the proxy.
  const publisher: RpdePublisher = await startRpdePublisher({ items: 60, pageSize: 15, publicOrigin: proxy.origin, path: `/feeds/${id}` });
  proxy.forwardTo(publisher.serverOrigin);
  const table = `${id}_items`;
  const source = new RpdeFeedSource({
    id: `rpde:${id}:${id}`,
    jobId: id,
    feedUrl: publisher.url,
    table,
    pollIntervalMs: 8_000,
    retryAfterDefault: { minMs: 60_000, maxMs: 120_000 },
    tombstoneRetentionMs: 7 * 86_400_000,
    resyncAfterMs: 7 * 86_400_000,
    allowedOrigins: [],
  });
  const { feed } = publisher;
  return {
    kind: 'rpde',
    proxy,
    source,
    job: { id, kind: 'rpde', feeds: [{ url: publisher.url, prefix: id }], pollInterval: '8s' },
    streamId: source.id,
    dataRequests: /\/feeds\//,
    change(round) {
      const live = [...feed.liveItems().keys()];
      const start = (round * 7) % Math.max(1, live.length - 10);
      feed.upsertMany(live.slice(start, start + 5).map((item) => ({ id: item })));
      feed.deleteMany(live.slice(start + 5, start + 8));
      for (let i = 0; i < 4; i += 1) feed.upsert(feed.newId());
    },
    expected: () =>
      [...feed.liveItems().entries()]
        .map(([item, live]) => ({ id: item, kind: live.kind, modified: live.modified.toString(), data: live.data }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    mirrored: (store) =>
      rowsOrNothing(async () =>
        (await store.readTable(table))
          .filter((row) => row['state'] === 'updated')
          .map((row) => ({
            id: String(row['id']),
            kind: row['kind'] === null ? null : String(row['kind']),
            modified: String(row['modified_raw']),
            data: typeof row['data'] === 'string' ? (JSON.parse(row['data']) as unknown) : null,
          }))
          .sort((a, b) => (a.id < b.id ? -1 : 1)),
      ),
    close: async () => {
      await proxy.close();
      await publisher.close();
    },
  };
}

const ODS_FIELDS = [
  { name: 'k', type: 'int' as const },
  { name: 'name', type: 'text' as const },
  { name: 'score', type: 'double' as const },
];

async function odsTestbed(kind: 'ods-catalog' | 'ods-records', proxy: FaultProxy, id: string): Promise<Testbed> {
  const sim: OdsSimulator = await startOdsSimulator();
  proxy.forwardTo(sim.url);
  const datasets = ['alpha', 'beta', 'gamma'];
  for (const [index, name] of datasets.entries()) {
    sim.portal.addDataset({
      id: name,
      fields: ODS_FIELDS,
      records: Array.from({ length: 12 + index }, (_, k) => ({ k, name: `${name}-${k}`, score: k / 4 })),
      metas: { default: { title: `${name} dataset` } },
    });
  }
  let next = 100;
  const changeRecords = (round: number): void => {
    const dataset = sim.portal.get('alpha');
    const ids = [...dataset.records.keys()];
    const edited = ids[round % ids.length];
    const deleted = ids[(round + 5) % ids.length];
    sim.portal.changeRecords('alpha', {
      insert: [{ k: next++, name: `new-${round}`, score: round }],
      ...(edited === undefined ? {} : { update: [{ id: edited, values: { k: next++, name: `edited-${round}`, score: -round } }] }),
      ...(deleted === undefined || deleted === edited ? {} : { delete: [deleted] }),
    });
  };
  if (kind === 'ods-records') {
    const table = `${id}_alpha`;
    const source = new OdsRecordsSource({
      id: `ods:${id}:alpha`,
      jobId: id,
      portal: proxy.origin,
      apiKey: undefined,
      datasetId: 'alpha',
      table,
      uniqueKey: undefined,
      mode: 'snapshot',
      overlapMs: 0,
      reconcileEveryMs: 0,
    });
    return {
      kind,
      proxy,
      source,
      job: { id, kind: 'ods-records', portal: proxy.origin, datasets: [{ id: 'alpha', table }] },
      streamId: source.id,
      dataRequests: /\/datasets\/alpha\/(exports|records)/,
      change: changeRecords,
      expected: () => portalRows(sim.portal.get('alpha')),
      mirrored: (store) => rowsOrNothing(() => odsMirrorRows(store, table)),
      close: async () => {
        await proxy.close();
        await sim.close();
      },
    };
  }
  const source = new OdsCatalogSource({
    id: `ods:${id}:catalog`,
    jobId: id,
    portal: proxy.origin,
    apiKey: undefined,
    prefix: id,
    where: undefined,
    refine: [],
    includeInspire: false,
    includeEmpty: true,
    goneAfter: 1,
  });
  const table = `${id}_datasets`;
  return {
    kind,
    proxy,
    source,
    job: { id, kind: 'ods-catalog', portal: proxy.origin, prefix: id, includeEmpty: true, goneAfter: 1 },
    streamId: source.id,
    dataRequests: /\/catalog\/(datasets|exports)/,
    change(round) {
      changeRecords(round);
      sim.portal.setMetas(datasets[round % datasets.length] as string, { title: `retitled ${round}` });
      if (round % 4 === 2) sim.portal.addDataset({ id: `extra${round}`, fields: ODS_FIELDS, records: [{ k: 1, name: 'x', score: 1 }] });
      if (round % 4 === 0 && sim.portal.find(`extra${round - 2}`) !== undefined) sim.portal.removeDataset(`extra${round - 2}`);
    },
    expected: () =>
      sim.portal
        .datasets()
        .sort((a, b) => (a.uid < b.uid ? -1 : 1))
        .map((dataset) => [dataset.uid, dataset.id, dataset.metas['default']?.['title'] ?? dataset.id, dataset.dataProcessedMs === undefined ? null : dataset.records.size]),
    mirrored: (store) =>
      rowsOrNothing(async () =>
        (await store.readTable(table))
          .filter((row) => row['state'] === 'present')
          .map((row): SqlValue[] => [row['dataset_uid'] ?? null, row['dataset_id'] ?? null, row['title'] ?? null, row['records_count'] ?? null]),
      ),
    close: async () => {
      await proxy.close();
      await sim.close();
    },
  };
}
