import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { createLogger } from '../daemon/logger.js';
import { expandJobs, type ConfiguredStream } from '../daemon/streams.js';
import { buildReports } from '../daemon/stream-status.js';
import { createHttpClient } from '../http/undici-client.js';
import { runStream } from '../runner/run-stream.js';
import { startNsiSimulator } from '../simulators/nsi/nsi-simulator.js';
import { startRpdePublisher } from '../simulators/rpde/publisher.js';
import { builtInKinds } from '../sources/registry.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { formatStatusTable } from './status-table.js';

const AREAS = ['FR', 'DE', 'IT', 'ES', 'NL'];
const MEASURES = ['ARRIVALS', 'NIGHTS'];
const YEARS = Array.from({ length: 10 }, (_, i) => String(2015 + i));

/**
 * `dataspace-sync demo`: local simulators of a .Stat data space and an RPDE publisher, a first
 * sync (full load), changes at the sources (revisions, deletions, attribute changes), a second
 * sync that moves only those, and a check that the mirror equals the sources.
 */
export async function runDemo(options: { db?: string; out?: NodeJS.WritableStream } = {}): Promise<boolean> {
  const out = options.out ?? process.stdout;
  const say = (line = '') => out.write(`${line}\n`);
  const nsi = await startNsiSimulator();
  const rpde = await startRpdePublisher({ items: 1200, pageSize: 250 });
  const dbPath = options.db ?? join(mkdtempSync(join(tmpdir(), 'dss-demo-')), 'demo.db');
  const store = new SqliteStore({ path: dbPath });
  try {
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
    });
    flow.batch((m) => {
      m.setAttribute('DECIMALS', {}, '0');
      for (const area of AREAS) {
        for (const measure of MEASURES) {
          m.setAttribute('UNIT_MEASURE', { FREQ: 'A', REF_AREA: area, MEASURE: measure }, measure === 'NIGHTS' ? 'NIGHT' : 'PERSON');
          for (const year of YEARS) {
            const value = String(1000 + AREAS.indexOf(area) * 100 + YEARS.indexOf(year) * 7 + (measure === 'NIGHTS' ? 3000 : 0));
            m.mergeObservation({ FREQ: 'A', REF_AREA: area, MEASURE: measure, TIME_PERIOD: year }, { OBS_VALUE: value, OBS_STATUS: 'A' });
          }
        }
      }
    });

    // The watermark comes from the server's Date header, which counts whole seconds: changes made in
    // the second of a sync are read again by the next one (harmless, but noise in a demo).
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const { config } = parseConfig(
      JSON.stringify({
        store: { engine: 'sqlite', path: dbPath },
        jobs: [
          { id: 'demo-stat', kind: 'sdmx', endpoint: nsi.url, dataflows: [{ ref: 'DEMO:DF_TOURISM(1.0)', prefix: 'tourism' }], overlap: '0s' },
          { id: 'demo-feed', kind: 'rpde', feeds: [{ url: rpde.url, prefix: 'sessions' }], pollInterval: '8s' },
        ],
      }),
      'demo',
      builtInKinds,
    );
    const log = createLogger({ level: 'warn' });
    const http = createHttpClient({ log });
    await store.open();
    const { streams, failures } = await expandJobs(config, builtInKinds, { http, log, signal: new AbortController().signal });
    if (failures[0]) throw failures[0].error;

    say(`dataspace-sync demo: a .Stat-like data space at ${nsi.url}`);
    say(`                     an RPDE publisher at ${rpde.url}`);
    say(`                     mirrored into ${dbPath}`);
    say();
    say('1. First sync (a full load of every stream):');
    await syncAll(streams, store, http, log, say);

    say();
    say('   (waiting 8 s: RPDE asks consumers not to poll a last page more often than that)');
    await new Promise((resolve) => setTimeout(resolve, 8_500));
    say();
    say('2. Changes at the sources:');
    flow.batch((m) => {
      m.replaceObservation({ FREQ: 'A', REF_AREA: 'FR', MEASURE: 'ARRIVALS', TIME_PERIOD: '2024' }, { OBS_VALUE: '999999', OBS_STATUS: 'P' });
      m.deleteData({ REF_AREA: 'IT', MEASURE: 'NIGHTS' });
      m.deleteData({ REF_AREA: 'DE', TIME_PERIOD: '2015' }, ['OBS_STATUS']);
      m.setAttribute('UNIT_MEASURE', { FREQ: 'A', REF_AREA: 'ES', MEASURE: 'ARRIVALS' }, 'THOUSAND_PERSONS');
    });
    say('   SDMX: 1 observation revised, the IT/NIGHTS series deleted (10 observations), OBS_STATUS removed');
    say('         from the DE/2015 observations, a series attribute changed');
    const live = [...rpde.feed.liveItems().keys()];
    for (const id of live.slice(0, 40)) rpde.feed.upsert(id);
    rpde.feed.deleteMany(live.slice(40, 65));
    say('   RPDE: 40 items updated, 25 deleted');

    say();
    say('3. Second sync (only what changed moves):');
    await syncAll(streams, store, http, log, say);

    say();
    const obs = await store.readTable('tourism_obs');
    const expectedObs = Object.keys(nsi.dataSpace.snapshot('DEMO:DF_TOURISM(1.0)').observations).length;
    const items = (await store.readTable('sessions_items')).filter((row) => row.state === 'updated');
    const liveCount = rpde.feed.liveItems().size;
    const ok = obs.length === expectedObs && items.length === liveCount;
    say(`4. Check: ${obs.length} observations mirrored (source has ${expectedObs}), ${items.length} live items mirrored (publisher has ${liveCount}): ${ok ? 'in step' : 'NOT in step'}`);
    say();
    const now = new Date();
    out.write(formatStatusTable(buildReports(streams, await store.listStates(), now, now)));
    say();
    say(`Query the mirror: sqlite3 ${dbPath} 'select * from tourism limit 5'`);
    return ok;
  } finally {
    await store.close().catch(() => undefined);
    await nsi.close();
    await rpde.close();
  }
}

async function syncAll(
  streams: readonly ConfiguredStream[],
  store: SqliteStore,
  http: ReturnType<typeof createHttpClient>,
  log: ReturnType<typeof createLogger>,
  say: (line: string) => void,
): Promise<void> {
  for (const stream of streams) {
    const started = performance.now();
    const result = await runStream({ store, source: stream.source, http, log, signal: new AbortController().signal });
    const ms = Math.round(performance.now() - started);
    say(`   ${stream.id.padEnd(44)} ${String(result.upserted).padStart(6)} upserted ${String(result.deleted).padStart(5)} deleted  ${String(result.commits).padStart(3)} commits  ${ms} ms`);
  }
}
