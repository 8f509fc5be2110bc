import type { SqlValue } from '../../core/tables.js';
import type { DataflowStructure } from '../../simulators/nsi/dataflow-structure.js';
import type { HostedDataflow } from '../../simulators/nsi/hosted-dataflow.js';
import { startNsiSimulator } from '../../simulators/nsi/nsi-simulator.js';
import { compareKeys, type NsiSnapshot, type SnapshotEntry } from '../../simulators/nsi/snapshot.js';
import type { Store } from '../../store/store.js';
import type { DemoPart, DemoPartOptions } from './demo-part.js';

const REF = 'DEMO:DF_TOURISM(1.0)';
const AREAS = ['FR', 'DE', 'IT', 'ES', 'NL'];
const MEASURES = ['ARRIVALS', 'NIGHTS'];
const YEARS = Array.from({ length: 10 }, (_, i) => String(2015 + i));

/**
 * SDMX: a .Stat-like data space with one dataflow (observations, series and dataflow attributes)
 * and its referential metadata, mirrored as two streams (`...:data` and `...:meta`). Each round
 * revises an observation, removes an attribute from some observations, deletes a series or
 * brings it back, and edits a metadata note: the Replace and Delete rows .Stat sends.
 */
export async function startSdmxPart(names: DemoPartOptions = {}): Promise<DemoPart> {
  const prefix = names.prefix ?? 'tourism';
  const nsi = await startNsiSimulator();
  const flow = nsi.dataSpace.defineDataflow({
    agency: 'DEMO',
    id: 'DF_TOURISM',
    version: '1.0',
    dimensions: ['FREQ', 'REF_AREA', 'MEASURE'],
    measures: ['OBS_VALUE'],
    attributes: [
      { id: 'UNIT_MEASURE', attachment: 'series' },
      { id: 'OBS_STATUS', attachment: 'observation' },
      { id: 'DECIMALS', attachment: 'dataflow' },
    ],
    metadata: { attributes: ['SOURCE_NOTE', 'CONTACT'] },
  });
  flow.batch((m) => {
    m.setAttribute('DECIMALS', {}, '0');
    for (const area of AREAS) {
      for (const measure of MEASURES) seedSeries(m, area, measure, 0);
      m.mergeMetadata({ FREQ: 'A', REF_AREA: area, MEASURE: '~', TIME_PERIOD: '~' }, { SOURCE_NOTE: `National statistics office of ${area}` });
    }
    m.mergeMetadata({ FREQ: '~', REF_AREA: '~', MEASURE: '~', TIME_PERIOD: '~' }, { CONTACT: 'stats@example.org' });
  });

  return {
    describe: [`SDMX: a .Stat-like data space at ${nsi.url} (dataflow ${REF}, data and referential metadata)`],
    jobs: [{ id: names.jobId ?? 'demo-stat', kind: 'sdmx', endpoint: nsi.url, dataflows: [{ ref: REF, prefix: prefix }], metadata: true, overlap: '0s' }],
    change(round) {
      const area = AREAS[round % AREAS.length] as string;
      const measure = MEASURES[round % MEASURES.length] as string;
      const year = YEARS[round % YEARS.length] as string;
      const gone = AREAS[(round + 2) % AREAS.length] as string;
      const lines: string[] = [];
      flow.batch((m) => {
        m.replaceObservation({ FREQ: 'A', REF_AREA: area, MEASURE: measure, TIME_PERIOD: year }, { OBS_VALUE: String(5000 + round), OBS_STATUS: 'P' });
        lines.push(`SDMX: observation ${area}/${measure}/${year} revised to ${5000 + round}`);
        if (round % 2 === 1) {
          m.deleteData({ REF_AREA: gone, MEASURE: 'NIGHTS' });
          lines.push(`SDMX: series ${gone}/NIGHTS deleted (${YEARS.length} observations)`);
        } else {
          seedSeries(m, gone, 'NIGHTS', round);
          lines.push(`SDMX: series ${gone}/NIGHTS published again`);
        }
        m.deleteData({ REF_AREA: area, TIME_PERIOD: YEARS[0] as string }, ['OBS_STATUS']);
        lines.push(`SDMX: OBS_STATUS removed from the ${area}/${YEARS[0]} observations`);
        m.mergeMetadata({ FREQ: 'A', REF_AREA: area, MEASURE: '~', TIME_PERIOD: '~' }, { SOURCE_NOTE: `Revised in round ${round}` });
        lines.push(`SDMX: metadata note of ${area} edited`);
      });
      return lines;
    },
    async compare(store) {
      return compareSnapshots(flow.snapshot(), await mirrorSnapshot(store, prefix, flow.structure));
    },
    async summary(store) {
      const mirror = await mirrorSnapshot(store, prefix, flow.structure);
      const series = mirror.attributes['series']?.length ?? 0;
      return [
        `${prefix}_obs: ${mirror.observations.length} observations; ${prefix}_attr_series: ${series} series; ${prefix}_meta: ${mirror.metadata.length} metadata rows (view: ${prefix})`,
      ];
    },
    close: () => nsi.close(),
  };
}

function seedSeries(m: Parameters<Parameters<HostedDataflow['batch']>[0]>[0], area: string, measure: string, round: number): void {
  m.setAttribute('UNIT_MEASURE', { FREQ: 'A', REF_AREA: area, MEASURE: measure }, measure === 'NIGHTS' ? 'NIGHT' : 'PERSON');
  for (const year of YEARS) {
    const value = 1000 + AREAS.indexOf(area) * 100 + YEARS.indexOf(year) * 7 + (measure === 'NIGHTS' ? 3000 : 0) + round;
    m.mergeObservation({ FREQ: 'A', REF_AREA: area, MEASURE: measure, TIME_PERIOD: year }, { OBS_VALUE: String(value), OBS_STATUS: 'A' });
  }
}

/**
 * The mirror's tables in the simulator's canonical form: only non-null cells, `''` metadata keys as
 * `~`. Without `metadata` (no `...:meta` stream mirrors it), the metadata part is left empty.
 */
export async function mirrorSnapshot(store: Store, prefix: string, structure: DataflowStructure, metadata = true): Promise<NsiSnapshot> {
  const entries = (rows: Record<string, SqlValue>[], keys: readonly string[], values: readonly string[], unattached = false): SnapshotEntry[] =>
    rows
      .map((row) => ({
        key: keys.map((id) => (unattached && row[id] === '' ? '~' : String(row[id]))),
        values: Object.fromEntries(values.filter((id) => row[id] !== null && row[id] !== undefined).map((id) => [id, String(row[id])])),
      }))
      .sort((a, b) => compareKeys(a.key, b.key));
  const attributes: Record<string, SnapshotEntry[]> = {};
  let dataflowAttributes: Record<string, string> = {};
  for (const attachment of structure.attachments) {
    if (attachment.level === 'dataflow') {
      dataflowAttributes = entries(await store.readTable(`${prefix}_dataset_attr`), [], attachment.attributes)[0]?.values ?? {};
      continue;
    }
    const keys = attachment.dimensionIndexes.map((index) => structure.dimensions[index] as string);
    attributes[attachment.name] = entries(await store.readTable(`${prefix}_attr_${attachment.name.toLowerCase()}`), keys, attachment.attributes);
  }
  return {
    observations: entries(await store.readTable(`${prefix}_obs`), structure.dimensions, structure.observationComponents),
    attributes,
    dataflowAttributes,
    metadata: metadata ? entries(await store.readTable(`${prefix}_meta`), structure.dimensions, structure.metadataAttributes, true) : [],
  };
}

/** One line per part of the snapshot that differs: what the source has against what the mirror has. */
function compareSnapshots(source: NsiSnapshot, mirror: NsiSnapshot): string[] {
  const parts: [string, unknown, unknown][] = [
    ['observations', source.observations, mirror.observations],
    ['dataflow attributes', source.dataflowAttributes, mirror.dataflowAttributes],
    ['metadata', source.metadata, mirror.metadata],
    ...Object.keys(source.attributes).map((name): [string, unknown, unknown] => [`${name} attributes`, source.attributes[name], mirror.attributes[name]]),
  ];
  return parts.flatMap(([name, expected, actual]) => {
    if (JSON.stringify(expected) === JSON.stringify(actual)) return [];
    const size = (value: unknown) => (Array.isArray(value) ? `${value.length} rows` : JSON.stringify(value));
    return [`SDMX ${name}: the source has ${size(expected)}, the mirror ${size(actual)}`];
  });
}
