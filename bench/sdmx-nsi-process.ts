import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGzip } from 'node:zlib';
import { startNsiSimulator, type NsiSimulator } from '../src/simulators/nsi/nsi-simulator.js';
import type { DataflowDefinition } from '../src/simulators/nsi/dataflow-structure.js';

/**
 * The NSI simulator in its own process for the SDMX benchmarks, so that generating the CSV shares
 * neither an event loop nor a heap with the client being measured. Started by the bench scripts
 * through fork(); talks over IPC:
 *   {type:'start', flows:[{id, observations}], recorded?} -> {type:'started', url}
 *     recorded: each flow's full answer (gzipped) is generated once and served from memory
 *     (everything else is passed to the simulator), so the remote costs next to no CPU, as a
 *     remote on another machine would: on two cores the client is then measured alone.
 *     synthetic (with recorded): the answer is written straight from benchKey, byte for byte what the
 *     simulator would answer (bench/sdmx-scale.ts checks it at a small size), without loading the
 *     observations into the simulator: 10M of them took it longer than the measurements.
 *   {type:'changes', id, changes, stride}      -> {type:'changed', revised, deleted}
 *   {type:'close'}
 */

export type NsiBenchRequest =
  | {
      readonly type: 'start';
      readonly flows: readonly { readonly id: string; readonly observations: number }[];
      readonly recorded?: boolean;
      readonly synthetic?: boolean;
    }
  | { readonly type: 'changes'; readonly id: string; readonly changes: number; readonly stride: number }
  | { readonly type: 'close' };

export type NsiBenchReply =
  | { readonly type: 'started'; readonly url: string }
  | { readonly type: 'changed'; readonly revised: number; readonly deleted: number };

/** 4 dimensions + TIME_PERIOD, OBS_VALUE, an observation-level and a series-level attribute. */
export function benchDataflow(id: string): DataflowDefinition {
  return {
    agency: 'BENCH',
    id,
    version: '1.0',
    dimensions: ['FREQ', 'REF_AREA', 'MEASURE', 'UNIT_MEASURE'],
    attributes: [
      { id: 'OBS_STATUS', attachment: 'observation' },
      { id: 'UNIT_MULT', attachment: 'series' },
    ],
  };
}

const PERIODS = 50;

/** Observation i: 50 annual periods per series, series spread over 50 areas x 20 measures x 20 units. */
export function benchKey(index: number): string[] {
  const series = Math.floor(index / PERIODS);
  return [
    'A',
    `C${String(Math.floor(series / 400)).padStart(3, '0')}`,
    `M${String(Math.floor(series / 20) % 20).padStart(2, '0')}`,
    `U${String(series % 20).padStart(2, '0')}`,
    String(1970 + (index % PERIODS)),
  ];
}

const send = process.send?.bind(process);
if (!send) throw new Error('sdmx-nsi-process must be started with fork()');

// The base content is dated an hour back, as if loaded long before the benchmark's first sync:
// a client's safety overlap must not make the incremental sync re-read it.
let shiftMs = -3_600_000;
let nsi: NsiSimulator | undefined;
let front: Server | undefined;

process.on('message', (message: NsiBenchRequest) => {
  void handle(message).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});

async function handle(message: NsiBenchRequest): Promise<void> {
  if (message.type === 'start') {
    nsi = await startNsiSimulator({ clock: () => new Date(Date.now() + shiftMs) });
    for (const { id, observations } of message.flows) {
      const flow = nsi.dataSpace.defineDataflow(benchDataflow(id));
      if (message.synthetic === true) continue;
      flow.loadObservations(
        (function* () {
          for (let i = 0; i < observations; i += 1) yield [benchKey(i), [(i * 1.25).toFixed(2), 'A']] as const;
        })(),
      );
      flow.batch((m) => {
        for (let i = 0; i < observations; i += PERIODS) {
          const [FREQ, REF_AREA, MEASURE, UNIT_MEASURE] = benchKey(i) as [string, string, string, string];
          m.setAttribute('UNIT_MULT', { FREQ, REF_AREA, MEASURE, UNIT_MEASURE }, '0');
        }
      });
    }
    shiftMs = 0;
    if (message.recorded === true) {
      const synthetic = message.synthetic === true ? new Map(message.flows.map((flow) => [`/data/BENCH,${flow.id},1.0/all`, flow])) : undefined;
      front = await recordedFront(
        nsi,
        message.flows.map((flow) => `/data/BENCH,${flow.id},1.0/all`),
        synthetic === undefined ? undefined : (path) => syntheticAnswer(synthetic.get(path) as { id: string; observations: number }),
      );
      const root = new URL(nsi.url).pathname.replace(/\/+$/, '');
      send!({ type: 'started', url: `http://127.0.0.1:${(front.address() as AddressInfo).port}${root}` } satisfies NsiBenchReply);
      return;
    }
    send!({ type: 'started', url: nsi.url } satisfies NsiBenchReply);
    return;
  }
  if (message.type === 'changes') {
    if (!nsi) throw new Error('not started');
    const flow = nsi.dataSpace.dataflows().find((f) => f.structure.id === message.id);
    if (!flow) throw new Error(`no dataflow ${message.id}`);
    const size = flow.content.observations.size;
    let revised = 0;
    let deleted = 0;
    // Observation k * stride: a stride of 1 revises whole series, as a data space usually does; a
    // large prime (9973 is prime to the sizes used, so no key is hit twice) spreads the changes
    // over the whole key space, one per page of the mirror's B-tree.
    flow.batch((m) => {
      for (let k = 0; k < message.changes; k += 1) {
        const dims = benchKey((k * message.stride) % size);
        const key = Object.fromEntries(['FREQ', 'REF_AREA', 'MEASURE', 'UNIT_MEASURE', 'TIME_PERIOD'].map((d, i) => [d, dims[i]!]));
        if (k % 10 < 7) {
          m.replaceObservation(key, { OBS_VALUE: `${k}.5`, OBS_STATUS: 'E' });
          revised += 1;
        } else {
          m.deleteObservation(key);
          deleted += 1;
        }
      }
    });
    send!({ type: 'changed', revised, deleted } satisfies NsiBenchReply);
    return;
  }
  front?.closeAllConnections();
  await new Promise<void>((resolve) => (front ? front.close(() => resolve()) : resolve()));
  await nsi?.close();
  process.disconnect();
}

interface Recorded {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** The simulator's full answer for benchDataflow with `observations`, gzipped as it would send it. */
async function syntheticAnswer(flow: { readonly id: string; readonly observations: number }): Promise<Recorded> {
  const gzip = createGzip({ level: 1 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  const ref = `dataflow,BENCH:${flow.id}(1.0),`;
  let text = 'STRUCTURE,STRUCTURE_ID,FREQ,REF_AREA,MEASURE,UNIT_MEASURE,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MULT\n';
  const write = async (): Promise<void> => {
    if (!gzip.write(text)) await new Promise((resolve) => gzip.once('drain', resolve));
    text = '';
  };
  for (let i = 0; i < flow.observations; i += 1) {
    text += `${ref}${benchKey(i).join(',')},${(i * 1.25).toFixed(2)},A,\n`;
    if (text.length > 1 << 20) await write();
  }
  for (let i = 0; i < flow.observations; i += PERIODS) {
    text += `${ref}${benchKey(i).slice(0, 4).join(',')},,,,0\n`;
    if (text.length > 1 << 20) await write();
  }
  await write();
  gzip.end();
  await done;
  return { headers: { 'content-type': 'application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8', 'content-encoding': 'gzip' }, body: Buffer.concat(chunks) };
}

/** A server in front of the simulator that answers the given full-answer paths from memory (gzip). */
async function recordedFront(simulator: NsiSimulator, paths: readonly string[], make?: (path: string) => Promise<Recorded>): Promise<Server> {
  const origin = new URL(simulator.url);
  const root = origin.pathname.replace(/\/+$/, '');
  const recorded = new Map<string, Recorded>();
  for (const path of paths) {
    if (make !== undefined) {
      recorded.set(`${root}${path}`, await make(path));
      continue;
    }
    recorded.set(
      `${root}${path}`,
      await new Promise<Recorded>((resolve, reject) => {
        const req = httpRequest(`${origin.origin}${root}${path}`, { headers: { accept: 'application/vnd.sdmx.data+csv;version=2.0.0', 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const headers: Record<string, string> = {};
            for (const name of ['content-type', 'content-encoding']) {
              const value = res.headers[name];
              if (typeof value === 'string') headers[name] = value;
            }
            resolve({ headers, body: Buffer.concat(chunks) });
          });
        });
        req.on('error', reject);
        req.end();
      }),
    );
  }
  const server = createServer((req, res) => {
    const answer = recorded.get(req.url ?? '');
    if (answer !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      res.writeHead(200, { ...answer.headers, 'content-length': String(answer.body.length), date: new Date().toUTCString() });
      res.end(answer.body);
      return;
    }
    const upstream = httpRequest(`${origin.origin}${req.url ?? '/'}`, { method: req.method, headers: { ...req.headers, host: origin.host } }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
