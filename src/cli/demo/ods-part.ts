import type { SqlValue } from '../../core/tables.js';
import { mirrorRows, portalRows } from '../../simulators/ods/mirror-rows.js';
import { startOdsSimulator } from '../../simulators/ods/ods-simulator.js';
import type { HostedDataset, OdsField, RecordValues } from '../../simulators/ods/portal-data.js';
import type { DemoPart } from './demo-part.js';

const TREES = 'street-trees';
const COUNTS = 'bike-counts';
const DOCS = 'budget-documents';
const CATALOG_PREFIX = 'portal';
const TREES_TABLE = 'portal_trees';
const COUNTS_TABLE = 'portal_bike_counts';
const SPECIES = ['Acer rubrum', 'Quercus robur', 'Tilia cordata', 'Platanus acerifolia', 'Prunus serrulata'];
const COUNTERS = ['bridge-north', 'bridge-south', 'harbour', 'station', 'park'];

const TREE_FIELDS: readonly OdsField[] = [
  { name: 'tree_id', type: 'int', label: 'Tree ID' },
  { name: 'species', type: 'text', annotations: { facet: true } },
  { name: 'height_m', type: 'double', label: 'Height (m)' },
  { name: 'planted', type: 'date' },
  { name: 'geo_point_2d', type: 'geo_point_2d' },
];

/** A realtime dataset keyed by its Unique ID fields: a later count for the same counter and day replaces the earlier. */
const COUNT_FIELDS: readonly OdsField[] = [
  { name: 'counter', type: 'text', annotations: { id: true } },
  { name: 'day', type: 'date', annotations: { id: true } },
  { name: 'bikes', type: 'int' },
];

/**
 * Opendatasoft: a portal with a file-sourced dataset (street trees, reprocessed at every change),
 * a realtime one (bike counts, fed as pushes) and one with attachments only, mirrored by an
 * `ods-catalog` job and two `ods-records` jobs (snapshot and incremental). Each round edits,
 * deletes and adds trees, pushes new and revised counts, and now and then retitles a dataset.
 */
export async function startOdsPart(): Promise<DemoPart> {
  const sim = await startOdsSimulator({
    datasets: [
      {
        id: TREES,
        fields: TREE_FIELDS,
        records: Array.from({ length: 400 }, (_, index) => tree(index, 0)),
        metas: { default: { title: 'Street trees', description: '<p>Trees on <strong>streets</strong>, by species.</p>', keyword: ['trees'], theme: ['Environment'] } },
      },
      { id: COUNTS, fields: COUNT_FIELDS, realtime: true, metas: { default: { title: 'Bike counts', theme: ['Mobility, transport'] } } },
      {
        id: DOCS,
        fields: [],
        metas: { default: { title: 'Budget documents' } },
        attachments: [{ id: 'budget_pdf', title: 'budget.pdf', mimetype: 'application/pdf', url: 'odsfile://budget.pdf' }],
      },
    ],
    realtime: [{ dataset: COUNTS, resource: 'realtime', pushKey: 'demo-push-key' }],
  });
  const portal = sim.portal;
  let nextTree = 400;
  portal.changeRecords(COUNTS, { insert: COUNTERS.flatMap((counter) => [count(counter, 1, 0), count(counter, 2, 0)]) });

  return {
    describe: [`ODS: an Opendatasoft portal at ${sim.url} (${TREES}: 400 records, ${COUNTS}: realtime, ${DOCS}: attachments only)`],
    jobs: [
      { id: 'demo-ods-catalog', kind: 'ods-catalog', portal: sim.url, prefix: CATALOG_PREFIX, goneAfter: 1 },
      { id: 'demo-ods-trees', kind: 'ods-records', portal: sim.url, datasets: [{ id: TREES, table: TREES_TABLE }] },
      { id: 'demo-ods-counts', kind: 'ods-records', portal: sim.url, datasets: [{ id: COUNTS, table: COUNTS_TABLE }], mode: 'incremental', overlap: '10s' },
    ],
    change(round) {
      const ids = [...portal.get(TREES).records.keys()];
      const start = (round * 13) % Math.max(1, ids.length - 20);
      const edited = ids.slice(start, start + 5).map((id) => ({ id, values: { ...portal.get(TREES).records.get(id)?.values, height_m: 10 + round / 10 } }));
      const inserted = Array.from({ length: 4 }, () => tree(nextTree++, round));
      portal.changeRecords(TREES, { update: edited, delete: ids.slice(start + 5, start + 8), insert: inserted });
      const day = 2 + round;
      portal.changeRecords(COUNTS, { insert: [...COUNTERS.map((counter) => count(counter, day, round)), count(COUNTERS[round % COUNTERS.length] as string, day - 1, round + 1)] });
      const lines = [`ODS: ${TREES}: 5 records edited, 3 deleted, 4 added (reprocessed)`, `ODS: ${COUNTS}: ${COUNTERS.length} counts pushed for day ${day}, 1 revised`];
      if (round % 3 === 0) {
        portal.setMetas(DOCS, { title: `Budget documents (revision ${round / 3})` });
        lines.push(`ODS: ${DOCS} retitled`);
      }
      return lines;
    },
    async compare(store) {
      const problems = compareCatalog(await store.readTable(`${CATALOG_PREFIX}_datasets`), portal.datasets());
      problems.push(...compareRecords(TREES, await mirrorRows(store, TREES_TABLE), portalRows(portal.get(TREES))));
      problems.push(...compareRecords(COUNTS, await mirrorRows(store, COUNTS_TABLE), portalRows(portal.get(COUNTS), 'incremental')));
      return problems;
    },
    async summary(store) {
      const datasets = await store.readTable(`${CATALOG_PREFIX}_datasets`);
      const resources = await store.readTable(`${CATALOG_PREFIX}_resources`);
      return [
        `${CATALOG_PREFIX}_datasets: ${datasets.length} datasets; ${CATALOG_PREFIX}_resources: ${resources.length} resources`,
        `${TREES_TABLE}: ${(await store.readTable(TREES_TABLE)).length} records; ${COUNTS_TABLE}: ${(await store.readTable(COUNTS_TABLE)).length} records`,
      ];
    },
    close: () => sim.close(),
  };
}

function tree(index: number, round: number): RecordValues {
  return {
    tree_id: index,
    species: SPECIES[index % SPECIES.length] as string,
    height_m: 2 + (index % 40) / 2 + round / 100,
    planted: `20${String(10 + (index % 15))}-0${1 + (index % 9)}-1${index % 10}`,
    geo_point_2d: { lon: 2.35 + index / 1e4, lat: 48.85 + index / 1e4 },
  };
}

function count(counter: string, day: number, round: number): RecordValues {
  const date = new Date(Date.UTC(2026, 0, day)).toISOString().slice(0, 10);
  return { counter, day: date, bikes: 100 + ((day * 31 + COUNTERS.indexOf(counter) * 17 + round * 7) % 400) };
}

/** The catalog mirror lists every dataset of the portal, present, under its uid, with its id, title and record count. */
function compareCatalog(rows: readonly Record<string, SqlValue>[], datasets: readonly HostedDataset[]): string[] {
  const mirrored = new Map(rows.filter((row) => row['state'] === 'present').map((row) => [String(row['dataset_uid']), row]));
  const problems: string[] = [];
  for (const dataset of datasets) {
    const row = mirrored.get(dataset.uid);
    const given = dataset.metas['default']?.['title'];
    const title = typeof given === 'string' ? given : dataset.id;
    const records = dataset.dataProcessedMs === undefined ? null : dataset.records.size;
    if (row === undefined) problems.push(`ODS catalog: dataset ${dataset.id} missing from the mirror`);
    else if (row['dataset_id'] !== dataset.id || row['title'] !== title || row['records_count'] !== records) {
      problems.push(`ODS catalog: dataset ${dataset.id} is "${title}" with ${String(records)} records, the mirror has "${String(row['title'])}" with ${String(row['records_count'])}`);
    }
  }
  if (mirrored.size !== datasets.length) problems.push(`ODS catalog: the portal has ${datasets.length} datasets, the mirror ${mirrored.size} present`);
  return problems;
}

function compareRecords(dataset: string, mirror: readonly Record<string, SqlValue>[], source: readonly Record<string, SqlValue>[]): string[] {
  if (JSON.stringify(mirror) === JSON.stringify(source)) return [];
  const ids = new Set(source.map((row) => row['record_id']));
  const extra = mirror.filter((row) => !ids.has(row['record_id'])).length;
  return [`ODS ${dataset}: the portal has ${source.length} records, the mirror ${mirror.length} (${extra} not at the portal, or values differ)`];
}
