import fc from 'fast-check';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataflowDefinition } from '../../../src/simulators/nsi/dataflow-structure.js';
import type { HostedDataflow } from '../../../src/simulators/nsi/hosted-dataflow.js';
import { startNsiSimulator, type NsiSimulator } from '../../../src/simulators/nsi/nsi-simulator.js';
import { applyMutation, mutationArb, type Mutation } from './mutation-arbitraries.js';
import { ReferenceMirror, rowsOf } from './reference-applier.js';
import { BASE_DATA, DF_TEST_DELETE, fixture, message } from './test-dataflows.js';

const CSV = 'application/vnd.sdmx.data+csv;version=2.0.0';
const START = Date.parse('2024-03-01T08:00:00Z');

let sim: NsiSimulator;
let now = START;
let flows = 0;

beforeAll(async () => {
  sim = await startNsiSimulator({ clock: () => new Date(now) });
});
afterAll(async () => {
  await sim.close();
});

/** A fresh dataflow per test or run, so that runs never see each other's history. */
function define(base: DataflowDefinition = DF_TEST_DELETE): HostedDataflow {
  flows += 1;
  return sim.dataSpace.defineDataflow({ ...base, id: `${base.id}_${flows}` });
}

/** `updatedAfter` as a client should send it: an explicit offset, `+` and `:` percent-encoded. */
function updatedAfterParam(ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 23);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const zone = offsetMinutes === 0 ? 'Z' : `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return encodeURIComponent(local + zone);
}

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

async function get(path: string, headers: Record<string, string> = { accept: CSV }): Promise<Answer> {
  const response = await request(`${sim.url}${path}`, { headers });
  const body = Buffer.from(await response.body.arrayBuffer());
  const gzip = response.headers['content-encoding'] === 'gzip';
  return { status: response.statusCode, text: (gzip ? gunzipSync(body) : body).toString('utf8'), headers: response.headers };
}

function dataPath(flow: HostedDataflow, query = ''): string {
  const s = flow.structure;
  return `/data/${s.agency},${s.id},${s.version}/all${query}`;
}

function metadataPath(flow: HostedDataflow, query = ''): string {
  const s = flow.structure;
  return `/v2/data/dataflow/${s.agency}/${s.id}/${s.version}/*?attributes=msd&measures=none${query}`;
}

function actionsOf(text: string): string[] {
  return [...new Set(rowsOf(text).map((r) => r.get('ACTION') ?? '(none)'))].sort();
}

describe('updatedAfter answers applied to a copy', () => {
  type Step = { readonly step: 'mutate'; readonly m: Mutation } | { readonly step: 'tick'; readonly ms: number } | { readonly step: 'sync'; readonly overlapMs: number; readonly offset: number };

  it('give exactly the current content, for random histories, settings and overlaps', async () => {
    const structure = define().structure;
    const domains = { DIM_1: ['A', 'B'], DIM_2: ['A', 'B'], TIME_PERIOD: ['2020', '2021'] };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      { weight: 6, arbitrary: mutationArb(structure, domains).map((m) => ({ step: 'mutate' as const, m })) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 5_000 }).map((ms) => ({ step: 'tick' as const, ms })) },
      {
        weight: 2,
        arbitrary: fc.record({ step: fc.constant('sync' as const), overlapMs: fc.constantFrom(0, 1, 3_000, 60_000), offset: fc.constantFrom(0, 120, -300) }),
      },
    );
    const settingsArb = fc.record({
      attributesOnObservationRows: fc.boolean(),
      deleteMarker: fc.constantFrom('*' as const, '-' as const),
      fullLoadAction: fc.constantFrom('I' as const, 'omit' as const),
      lineEnding: fc.constantFrom('\n' as const, '\r\n' as const),
      emptyStatus: fc.constantFrom(404 as const, 204 as const),
      structureLabel: fc.constantFrom('dataflow' as const, 'DATAFLOW' as const),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { maxLength: 40, size: 'medium' }), settingsArb, async (steps, settings) => {
        Object.assign(sim.settings, settings);
        const flow = define();
        const mirror = new ReferenceMirror(flow.structure);
        let cursor: number | undefined;
        for (const step of [...steps, { step: 'sync', overlapMs: 0, offset: 0 } as const]) {
          if (step.step === 'mutate') applyMutation(flow, step.m);
          else if (step.step === 'tick') now += step.ms;
          else {
            const since = cursor === undefined ? '' : `updatedAfter=${updatedAfterParam(cursor - step.overlapMs, step.offset)}`;
            const requestTime = now;
            const data = await get(dataPath(flow, since ? `?${since}` : ''));
            const meta = await get(metadataPath(flow, since ? `&${since}` : ''));
            for (const answer of [data, meta]) {
              expect([200, settings.emptyStatus]).toContain(answer.status);
              if (answer.status === 200 && cursor !== undefined) expect(['D', 'R']).toEqual(expect.arrayContaining(actionsOf(answer.text)));
            }
            if (data.status === 200) mirror.applyData(data.text);
            if (meta.status === 200) mirror.applyMetadata(meta.text);
            expect(mirror.snapshot()).toEqual(flow.snapshot());
            cursor = requestTime;
          }
        }
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 60) },
    );
    Object.assign(sim.settings, { attributesOnObservationRows: false, deleteMarker: '*', fullLoadAction: 'omit', lineEnding: '\n', emptyStatus: 404, structureLabel: 'dataflow' });
  });
});

describe('removals a replayed Delete row would not reproduce', () => {
  it('restates an observation pruned at the source whose copy still holds a value the source had already replaced away', async () => {
    const flow = define();
    const key = { DIM_1: 'A', DIM_2: 'A', TIME_PERIOD: '2020' };
    flow.mergeObservation(key, { OBS_VALUE: '1', OBS_ATTR: 'a' });
    const mirror = new ReferenceMirror(flow.structure);
    mirror.applyData((await get(dataPath(flow))).text);
    now += 1000;
    const since = now;
    flow.replaceObservation(key, { OBS_VALUE: '1' });
    flow.deleteData({ DIM_1: 'A' }, ['OBS_VALUE']);
    const answer = await get(dataPath(flow, `?updatedAfter=${updatedAfterParam(since, 0)}`));
    mirror.applyData(answer.text);
    expect(flow.snapshot().observations).toEqual([]);
    expect(mirror.snapshot()).toEqual(flow.snapshot());
  });
});

describe('the shape of answers', () => {
  it('restates a Delete row as it was uploaded, then Replace rows for what changed', async () => {
    const flow = define();
    flow.upload(fixture(BASE_DATA).replaceAll('DF_TEST_DELETE(1.0)', `${flow.structure.id}(1.0)`));
    now += 60_000;
    const since = now;
    flow.upload(message('D,,B,,,,,,', 'R,A,A,2020,5,,,,', 'M,,C,,,,,GC,').replaceAll('DF_TEST_DELETE(1.0)', `${flow.structure.id}(1.0)`));
    const answer = await get(dataPath(flow, `?updatedAfter=${updatedAfterParam(since, 60)}`));
    const ref = `OECD:${flow.structure.id}(1.0)`;
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(
      [
        'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR',
        `dataflow,${ref},D,,B,,,,,,`,
        `dataflow,${ref},R,A,A,2020,5,,,,`,
        `dataflow,${ref},R,,C,,,,,GC,`,
        '',
      ].join('\n'),
    );
  });

  it('answers a full load with one row per observation and per attribute record', async () => {
    const flow = define();
    flow.upload(fixture(BASE_DATA).replaceAll('DF_TEST_DELETE(1.0)', `${flow.structure.id}(1.0)`));
    const answer = await get(dataPath(flow));
    const rows = rowsOf(answer.text);
    expect(rows).toHaveLength(27 + 9 + 3 + 1);
    expect(rows.every((r) => !r.has('ACTION'))).toBe(true);
    const mirror = new ReferenceMirror(flow.structure);
    mirror.applyData(answer.text);
    expect(mirror.snapshot()).toEqual(flow.snapshot());
  });

  it('answers 404 NoRecordsFound (or 204 when so configured) when nothing changed', async () => {
    const flow = define();
    flow.mergeObservation({ DIM_1: 'A', DIM_2: 'A', TIME_PERIOD: '2020' }, { OBS_VALUE: '1' });
    now += 1000;
    const notFound = await get(dataPath(flow, `?updatedAfter=${updatedAfterParam(now, 0)}`));
    expect(notFound.status).toBe(404);
    expect(notFound.text).toContain('NoRecordsFound');
    sim.settings.emptyStatus = 204;
    try {
      expect((await get(dataPath(flow, `?updatedAfter=${updatedAfterParam(now, 0)}`))).status).toBe(204);
    } finally {
      sim.settings.emptyStatus = 404;
    }
  });

  it('counts a change made exactly at updatedAfter as changed after it', async () => {
    const flow = define();
    const { at } = flow.mergeObservation({ DIM_1: 'A', DIM_2: 'A', TIME_PERIOD: '2020' }, { OBS_VALUE: '1' });
    expect((await get(dataPath(flow, `?updatedAfter=${updatedAfterParam(at, 0)}`))).status).toBe(200);
    expect((await get(dataPath(flow, `?updatedAfter=${updatedAfterParam(at + 1, 0)}`))).status).toBe(404);
  });

  it('sends the simulator clock in the Date header and gzip when the client accepts it', async () => {
    const flow = define();
    flow.mergeObservation({ DIM_1: 'A', DIM_2: 'A', TIME_PERIOD: '2020' }, { OBS_VALUE: '1' });
    const answer = await get(dataPath(flow), { accept: CSV, 'accept-encoding': 'gzip' });
    expect(answer.headers['content-encoding']).toBe('gzip');
    expect(answer.headers.date).toBe(new Date(now).toUTCString());
    expect(answer.text.split('\n')[1]).toBe(`dataflow,OECD:${flow.structure.id}(1.0),A,A,2020,1,,,,`);
  });

  it('serves only the key asked for (v1 and v2 syntax), with the attribute records and metadata above it', async () => {
    const flow = define();
    flow.upload(fixture(BASE_DATA).replaceAll('DF_TEST_DELETE(1.0)', `${flow.structure.id}(1.0)`));
    flow.mergeMetadata({ DIM_1: '~', DIM_2: 'B', TIME_PERIOD: '~' }, { NOTE: 'b' });
    flow.mergeMetadata({ DIM_1: 'C', DIM_2: '~', TIME_PERIOD: '~' }, { NOTE: 'c' });
    flow.mergeMetadata({ DIM_1: '~', DIM_2: '~', TIME_PERIOD: '~' }, { NOTE: 'all' });
    const s = flow.structure;
    const v1 = await get(`/data/${s.agency},${s.id},${s.version}/A+B.B`);
    const v2 = await get(`/v2/data/dataflow/${s.agency}/${s.id}/${s.version}/A,B.B`);
    const meta = await get(`/v2/data/dataflow/${s.agency}/${s.id}/${s.version}/A.*?attributes=msd&measures=none`);
    expect(v2.text).toBe(v1.text);
    const keys = rowsOf(v1.text).map((r) => [r.get('DIM_1') ?? '', r.get('DIM_2') ?? '', r.get('TIME_PERIOD') ?? ''].join('.'));
    expect(keys).toEqual(['A.B.2020', 'A.B.2021', 'A.B.2022', 'B.B.2020', 'B.B.2021', 'B.B.2022', '..', '.B.', 'A.B.', 'B.B.']);
    expect(rowsOf(meta.text).map((r) => r.get('NOTE'))).toEqual(['b', 'all']);
  });
});
