import type { SyncState } from '../../src/core/sync-state.js';
import { BUFFER_ROWS } from '../../src/runner/run-stream.js';
import type { HostedDataflow } from '../../src/simulators/nsi/hosted-dataflow.js';
import { startNsiSimulator, type NsiSimulator } from '../../src/simulators/nsi/nsi-simulator.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';

const FLOW = 'DF_BIG';
/** More rows than the runner buffers before opening the transaction, so the transaction waits for the slow body. */
const NEW_ROWS = BUFFER_ROWS + 10_000;
/**
 * Sent at once: the buffered rows and a little more, so the transaction is open and has written
 * when the pauses begin. The rest (9 chunks, 250 ms apart) is the window to lose the database in.
 */
const FAST_ROWS = BUFFER_ROWS + 1_000;

/**
 * A dataflow whose next change is large and served slowly: a sync of it opens its store
 * transaction, then waits on the network for seconds, the moment to lose the database under it
 * (a terminated backend, a server restart).
 */
export interface SlowDataflow {
  readonly nsi: NsiSimulator;
  readonly flow: HostedDataflow;
  /** The sdmx job mirroring it, for a config's `jobs`. */
  readonly job: Record<string, unknown>;
  readonly stream: string;
  /** The observation table its sync writes (and whose transaction the tests look for). */
  readonly table: string;
  /** Adds NEW_ROWS observations and makes the next data answer slow past its first FAST_ROWS. */
  changeSlowly(): void;
  /** The source's observations as `key=value` lines, sorted. */
  source(): string[];
  /** The stream's state and its mirrored observations (same form as `source`), read from the store. */
  stored(url: string, schema: string): Promise<{ state: SyncState | undefined; rows: string[] }>;
  close(): Promise<void>;
}

export async function startSlowDataflow(): Promise<SlowDataflow> {
  const nsi = await startNsiSimulator();
  const flow = nsi.dataSpace.defineDataflow({ agency: 'TEST', id: FLOW, version: '1.0', dimensions: ['FREQ', 'REF_AREA'], measures: ['OBS_VALUE'], attributes: [] });
  flow.batch((m) => {
    for (let year = 2000; year < 2010; year += 1) m.mergeObservation({ FREQ: 'A', REF_AREA: 'FR', TIME_PERIOD: String(year) }, { OBS_VALUE: String(year) });
  });
  const table = `${FLOW.toLowerCase()}_obs`;
  const stream = `sdmx:stat:TEST:${FLOW}(1.0):data`;
  return {
    nsi,
    flow,
    job: { id: 'stat', kind: 'sdmx', endpoint: nsi.url, dataflows: [`TEST:${FLOW}(1.0)`] },
    stream,
    table,
    changeSlowly() {
      flow.batch((m) => {
        for (let i = 0; i < NEW_ROWS; i += 1) {
          m.mergeObservation({ FREQ: 'M', REF_AREA: `R${i % 300}`, TIME_PERIOD: String(1800 + Math.floor(i / 300)) }, { OBS_VALUE: String(i) });
        }
      });
      nsi.faults.inject({ type: 'slowBody', rowsPerChunk: 1000, delayMs: 250, afterRows: FAST_ROWS });
    },
    source: () =>
      flow
        .snapshot()
        .observations.map((entry) => `${entry.key.join('.')}=${entry.values.OBS_VALUE}`)
        .sort(),
    async stored(url, schema) {
      const store = new PostgresStore({ url, schema, readOnly: true, poolSize: 1 });
      await store.open();
      try {
        const rows = await store.readTable(table);
        return {
          state: await store.readState(stream),
          rows: rows.map((row) => `${String(row.FREQ)}.${String(row.REF_AREA)}.${String(row.TIME_PERIOD)}=${String(row.OBS_VALUE)}`).sort(),
        };
      } finally {
        await store.close();
      }
    },
    close: () => nsi.close(),
  };
}
