import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostedDataflow } from '../../../src/simulators/nsi/hosted-dataflow.js';
import { startNsiSimulator, type NsiSimulator } from '../../../src/simulators/nsi/nsi-simulator.js';
import { parseUpdatedAfter } from '../../../src/simulators/nsi/updated-after.js';
import { DF_TEST_DELETE } from './test-dataflows.js';

const CSV = 'application/vnd.sdmx.data+csv;version=2.0.0';

describe('parsing updatedAfter like the NSI', () => {
  const cases: [string, string][] = [
    ['2023-04-28T15:45:00+01:00', '2023-04-28T14:45:00.000Z'],
    ['2023-04-28T15:45:00Z', '2023-04-28T15:45:00.000Z'],
    ['2015-12-31T23:59:59.9999-01:00', '2016-01-01T00:59:59.999Z'],
    ['2023-04-28T15:45', '2023-04-28T15:45:00.000Z'],
    ['2023-04-28', '2023-04-28T00:00:00.000Z'],
  ];
  for (const [raw, instant] of cases) {
    it(`reads ${raw} as ${instant}`, () => {
      expect(parseUpdatedAfter(raw, 0, 'reject')).toEqual({ ok: true, at: Date.parse(instant) });
    });
  }

  it('reads a value without offset in the service local time', () => {
    expect(parseUpdatedAfter('2023-04-28T15:45:00', 120, 'reject')).toEqual({ ok: true, at: Date.parse('2023-04-28T13:45:00Z') });
  });

  it('rejects what is not an xs:dateTime', () => {
    for (const raw of ['yesterday', '2023-02-30T00:00:00Z', '2023-04-28T25:00:00Z', '2023-04-28 15:45:00']) {
      expect(parseUpdatedAfter(raw, 0, 'reject').ok).toBe(false);
    }
  });
});

describe('an unencoded + in updatedAfter over HTTP', () => {
  let now = Date.parse('2024-05-01T12:00:00Z');
  let sim: NsiSimulator;
  let flow: HostedDataflow;
  beforeAll(async () => {
    sim = await startNsiSimulator({ clock: () => new Date(now) });
    flow = sim.dataSpace.defineDataflow(DF_TEST_DELETE);
    flow.mergeObservation({ DIM_1: 'A', DIM_2: 'A', TIME_PERIOD: '2020' }, { OBS_VALUE: '1' });
    now += 3_600_000;
  });
  afterAll(async () => {
    await sim.close();
  });
  const get = async (query: string): Promise<{ status: number; text: string }> => {
    const response = await request(`${sim.url}/data/OECD,DF_TEST_DELETE,1.0/all?${query}`, { headers: { accept: CSV } });
    return { status: response.statusCode, text: await response.body.text() };
  };

  it('is answered 400 with a syntax error naming the broken value', async () => {
    const broken = await get('updatedAfter=2024-05-01T12:30:00+01:00');
    expect(broken.status).toBe(400);
    expect(broken.text).toContain('code="140"');
    expect(broken.text).toContain("Invalid updatedAfter value '2024-05-01T12:30:00 01:00'");
    expect(sim.requests.at(-1)?.url).toContain('updatedAfter=2024-05-01T12:30:00+01:00');
  });

  it('is answered normally once encoded as %2B', async () => {
    // 12:30+01:00 is 11:30Z, before the change at 12:00Z.
    expect((await get('updatedAfter=2024-05-01T12%3A30%3A00%2B01%3A00')).status).toBe(200);
    expect((await get('updatedAfter=2024-05-01T13%3A30%3A00%2B01%3A00')).status).toBe(404);
  });

  it('silently shifts the window when the service drops the broken offset and reads local time', async () => {
    sim.settings.unencodedPlus = 'read-as-local-time';
    sim.settings.localOffsetMinutes = 0;
    try {
      // Read as 11:30 UTC local time instead of 10:30Z: the change at 12:00Z is still after it...
      expect((await get('updatedAfter=2024-05-01T11:30:00+01:00')).status).toBe(200);
      // ...but 12:30+01:00 (11:30Z, before the change) is read as 12:30Z: the change is lost.
      expect((await get('updatedAfter=2024-05-01T12:30:00+01:00')).status).toBe(404);
    } finally {
      sim.settings.unencodedPlus = 'reject';
    }
  });
});
