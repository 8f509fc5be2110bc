import { startOdsSimulator, type OdsSimulator } from '../src/simulators/ods/ods-simulator.js';
import { BENCH_DATASET, benchDataset } from './_ods-bench-dataset.js';

/**
 * The ODS portal simulator in its own process for bench/ods-records.ts, so that rendering the
 * export shares neither an event loop nor a heap with the client being measured. Talks over IPC:
 *   {type:'start', records}      -> {type:'started', url}
 *   {type:'change', share}       -> {type:'changed', edited}   (edits that share of the records)
 *   {type:'exports'}             -> {type:'exports', count}    (export requests answered so far)
 *   {type:'close'}
 */
export type PortalBenchRequest =
  | { readonly type: 'start'; readonly records: number }
  | { readonly type: 'change'; readonly share: number }
  | { readonly type: 'exports' }
  | { readonly type: 'close' };

export type PortalBenchReply =
  | { readonly type: 'started'; readonly url: string }
  | { readonly type: 'changed'; readonly edited: number }
  | { readonly type: 'exports'; readonly count: number };

const send = process.send?.bind(process);
if (!send) throw new Error('ods-portal-process must be started with fork()');

let portal: OdsSimulator | undefined;
let revision = 0;

process.on('message', (message: PortalBenchRequest) => {
  void handle(message).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});

async function handle(message: PortalBenchRequest): Promise<void> {
  switch (message.type) {
    case 'start':
      portal = await startOdsSimulator({ quota: 1_000_000, datasets: [benchDataset(message.records)] });
      send?.({ type: 'started', url: portal.url } satisfies PortalBenchReply);
      return;
    case 'change': {
      const sim = portal as OdsSimulator;
      const dataset = sim.portal.get(BENCH_DATASET);
      const ids = [...dataset.records.keys()];
      const every = Math.max(1, Math.round(1 / message.share));
      revision += 1;
      const update = ids.filter((_, index) => index % every === 0).map((id) => ({ id, values: { ...dataset.records.get(id)?.values, common_name: `edited ${revision}` } }));
      sim.portal.changeRecords(BENCH_DATASET, { update });
      send?.({ type: 'changed', edited: update.length } satisfies PortalBenchReply);
      return;
    }
    case 'exports':
      send?.({ type: 'exports', count: (portal as OdsSimulator).requests.filter((request) => request.endpoint === 'export').length } satisfies PortalBenchReply);
      return;
    case 'close':
      await portal?.close();
      process.disconnect();
  }
}
