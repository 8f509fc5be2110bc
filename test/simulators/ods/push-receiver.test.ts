import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { startOdsSimulator, type OdsSimulator, type OdsSimulatorOptions } from '../../../src/simulators/ods/ods-simulator.js';
import type { OdsField, RecordValues } from '../../../src/simulators/ods/portal-data.js';

const SENSOR_FIELDS: readonly OdsField[] = [
  { name: 'sensor', type: 'text' },
  { name: 'kind', type: 'text' },
  { name: 'value', type: 'double' },
];

interface Answer {
  readonly status: number;
  readonly text: string;
}

let sim: OdsSimulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: OdsSimulatorOptions = {}): Promise<OdsSimulator> {
  sim = await startOdsSimulator({
    realtime: [
      { dataset: 'readings', resource: 'realtime', pushKey: 'k-plain', fields: SENSOR_FIELDS },
      { dataset: 'sensors', resource: 'realtime0', pushKey: 'k-keyed', fields: SENSOR_FIELDS, uniqueIds: ['sensor', 'kind'] },
    ],
    ...options,
  });
  return sim;
}

async function post(url: string, body: unknown): Promise<Answer> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, text: await response.text() };
}

async function get(url: string): Promise<Answer> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

function deleteUrl(pushUrl: string): string {
  return pushUrl.replace('/push/?', '/delete/?');
}

function byValues(records: readonly RecordValues[]): RecordValues[] {
  return [...records].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('the Push API receiver takes records as an Opendatasoft realtime resource does', () => {
  it('a JSON object or an array of them is stored and answered {"status": "OK"}; the Explore API serves the records', async () => {
    const portal = await start();
    const url = portal.pushUrl('readings');
    expect(await post(url, { sensor: 's1', kind: 'temp', value: 17 })).toEqual({ status: 200, text: '{"status":"OK"}' });
    expect((await post(url, [{ sensor: 's2', kind: 'temp', value: 3.5 }, { sensor: 's3', kind: 'hum', value: 40 }])).status).toBe(200);
    expect(byValues(portal.push.records('readings'))).toEqual([
      { sensor: 's1', kind: 'temp', value: 17 },
      { sensor: 's2', kind: 'temp', value: 3.5 },
      { sensor: 's3', kind: 'hum', value: 40 },
    ]);
    const explored = JSON.parse((await get(`${portal.url}/api/explore/v2.1/catalog/datasets/readings/exports/json?select=recordid,sensor`)).text) as { recordid: string; sensor: string }[];
    expect(explored.map((row) => row.sensor).sort()).toEqual(['s1', 's2', 's3']);
    expect(new Set(explored.map((row) => row.recordid))).toEqual(new Set(portal.push.recordsById('readings').keys()));
  });

  it('without Unique ID fields the id is a hash of the values: the same record twice is one record, a changed one is another', async () => {
    const portal = await start();
    const url = portal.pushUrl('readings');
    await post(url, { sensor: 's1', kind: 'temp', value: 17 });
    await post(url, { value: 17, kind: 'temp', sensor: 's1' });
    expect(portal.push.count('readings')).toBe(1);
    await post(url, { sensor: 's1', kind: 'temp', value: 18 });
    expect(portal.push.count('readings')).toBe(2);
    const [id] = [...portal.push.recordsById('readings')].find(([, values]) => values['value'] === 17) ?? [];
    expect(id).toMatch(/^[0-9a-f]{40}$/);
  });

  it('a missing field counts as null: a record pushed without it is the record pushed with null', async () => {
    const portal = await start();
    const url = portal.pushUrl('readings');
    await post(url, { sensor: 's1', kind: 'temp' });
    await post(url, { sensor: 's1', kind: 'temp', value: null });
    expect(portal.push.records('readings')).toEqual([{ sensor: 's1', kind: 'temp', value: null }]);
  });

  it('with Unique ID fields a record with the same key replaces the earlier one', async () => {
    const portal = await start();
    const url = portal.pushUrl('sensors');
    await post(url, [{ sensor: 's1', kind: 'temp', value: 17 }, { sensor: 's1', kind: 'hum', value: 40 }]);
    await post(url, { sensor: 's1', kind: 'temp', value: 18 });
    expect(byValues(portal.push.records('sensors'))).toEqual([
      { sensor: 's1', kind: 'hum', value: 40 },
      { sensor: 's1', kind: 'temp', value: 18 },
    ]);
  });

  it('deletes by values (POST /delete/) and by record id (GET /<id>/delete/); deleting what is absent is still OK', async () => {
    const portal = await start();
    const url = portal.pushUrl('readings');
    await post(url, [{ sensor: 's1', kind: 'temp', value: 17 }, { sensor: 's2', kind: 'temp', value: 18 }, { sensor: 's3', kind: 'temp', value: 19 }]);
    expect(await post(deleteUrl(url), [{ sensor: 's1', kind: 'temp', value: 17 }])).toEqual({ status: 200, text: '{"status":"OK"}' });
    expect((await post(deleteUrl(url), { sensor: 's2', kind: 'temp', value: 999 })).status).toBe(200);
    expect(portal.push.count('readings')).toBe(2);
    const [id] = [...portal.push.recordsById('readings')].find(([, values]) => values['sensor'] === 's3') ?? [];
    const byId = url.replace('/push/?', `/${id ?? ''}/delete/?`);
    expect(await get(byId)).toEqual({ status: 200, text: '{"status":"OK"}' });
    expect(portal.push.records('readings')).toEqual([{ sensor: 's2', kind: 'temp', value: 18 }]);
    expect((await get(byId)).status).toBe(200);
  });

  it('on a dataset with Unique ID fields a delete by values needs only the key fields', async () => {
    const portal = await start();
    const url = portal.pushUrl('sensors');
    await post(url, [{ sensor: 's1', kind: 'temp', value: 17 }, { sensor: 's1', kind: 'hum', value: 40 }]);
    await post(deleteUrl(url), { sensor: 's1', kind: 'temp' });
    expect(portal.push.records('sensors')).toEqual([{ sensor: 's1', kind: 'hum', value: 40 }]);
  });

  it('the request limit counts bytes: a body of exactly the limit is taken, one byte more is a 413 and nothing is applied', async () => {
    const portal = await start({ pushBodyLimit: 200 });
    const url = portal.pushUrl('readings');
    const sized = (bytes: number): string => {
      const head = JSON.stringify([{ sensor: '', kind: 'x', value: 1 }]);
      // "é" is two bytes in UTF-8: a limit counted in characters would let this through.
      const filler = 'é'.repeat(Math.floor((bytes - Buffer.byteLength(head)) / 2));
      const text = JSON.stringify([{ sensor: filler, kind: 'x'.repeat((bytes - Buffer.byteLength(head)) % 2 + 1), value: 1 }]);
      expect(Buffer.byteLength(text)).toBe(bytes);
      return text;
    };
    expect((await post(url, sized(200))).status).toBe(200);
    const refused = await post(url, sized(201));
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.text)).toMatchObject({ error_code: 'PayloadTooLarge' });
    expect(portal.push.count('readings')).toBe(1);
    expect(portal.push.log.map((entry) => [entry.bytes, entry.status, entry.applied])).toEqual([
      [200, 200, true],
      [201, 413, false],
    ]);
  });

  it('the default limit is 5,000,000 bytes', async () => {
    const portal = await start();
    expect(portal.push.maxBodyBytes).toBe(5_000_000);
    const big = JSON.stringify({ sensor: 'x'.repeat(5_000_001), kind: 'a', value: 1 });
    expect((await post(portal.pushUrl('readings'), big)).status).toBe(413);
    expect(portal.push.count('readings')).toBe(0);
  });

  it('refuses a wrong or missing key (401), a disabled resource and an unpublished dataset (400), keeping the records', async () => {
    const portal = await start();
    const url = portal.pushUrl('readings');
    await post(url, { sensor: 's1', kind: 'temp', value: 17 });
    const record = { sensor: 's2', kind: 'temp', value: 1 };
    expect((await post(url.replace('k-plain', 'k-wrong'), record)).status).toBe(401);
    expect((await post(url.replace('?pushkey=k-plain', ''), record)).status).toBe(401);
    portal.push.setEnabled('readings', false);
    const disabled = await post(url, record);
    expect(disabled.status).toBe(400);
    expect(JSON.parse(disabled.text)).toMatchObject({ error_code: 'PushDisabled' });
    expect(portal.push.records('readings')).toEqual([{ sensor: 's1', kind: 'temp', value: 17 }]);
    portal.push.setEnabled('readings', true);
    portal.push.renewKey('readings', 'k-new');
    expect((await post(url, record)).status).toBe(401);
    expect((await post(portal.pushUrl('readings'), record)).status).toBe(200);
    expect(portal.push.count('readings')).toBe(2);
  });

  it('refuses malformed bodies with a message: not JSON, not an object, a field outside the schema; nothing of the request is applied', async () => {
    const portal = await start();
    const url = portal.pushUrl('readings');
    const notJson = await post(url, '{"sensor": ');
    expect([notJson.status, (JSON.parse(notJson.text) as { error_code: string }).error_code]).toEqual([400, 'InvalidJSON']);
    expect((await post(url, [{ sensor: 's1', kind: 'a', value: 1 }, 5])).status).toBe(400);
    const unknown = await post(url, [{ sensor: 's1', kind: 'a', value: 1 }, { sensor: 's2', colour: 'red' }]);
    expect(unknown.status).toBe(400);
    expect((JSON.parse(unknown.text) as { message: string }).message).toContain('colour');
    expect(portal.push.count('readings')).toBe(0);
  });

  it('answers 404 for an unknown dataset or resource and 405 without the trailing slash', async () => {
    const portal = await start();
    const url = portal.pushUrl('readings');
    expect((await post(url.replace('/readings/', '/nothing/'), {})).status).toBe(404);
    expect((await post(url.replace('/realtime/', '/realtime9/'), {})).status).toBe(404);
    expect((await post(url.replace('/push/?', '/push?'), {})).status).toBe(405);
    expect((await post(deleteUrl(url).replace('/delete/?', '/delete?'), {})).status).toBe(405);
  });

  it('answers OK to a delete before the first push gave an undeclared schema, deleting nothing, and refuses an unknown field once it has one', async () => {
    const portal = await start({ realtime: [{ dataset: 'feed', resource: 'realtime', pushKey: 'k', uniqueIds: ['id'] }] });
    const url = portal.pushUrl('feed');
    expect(await post(deleteUrl(url), [{ id: 'a', kind: 'Event' }])).toEqual({ status: 200, text: '{"status":"OK"}' });
    expect(portal.push.count('feed')).toBe(0);
    expect(portal.portal.get('feed').fields).toEqual([]);
    await post(url, { id: 'b', kind: 'Event' });
    expect((await post(deleteUrl(url), [{ id: 'b', other: 1 }])).status).toBe(400);
    expect(portal.push.count('feed')).toBe(1);
  });

  it('takes the schema from the first record when none was declared, Unique ID fields included', async () => {
    const portal = await start({ realtime: [{ dataset: 'feed', resource: 'pastedtext/realtime0', pushKey: 'k', uniqueIds: ['id'] }] });
    const url = portal.pushUrl('feed');
    expect(url).toContain('/feed/pastedtext/realtime0/push/?pushkey=k');
    await post(url, { id: 'a', kind: 'Event', modified: 3, data: '{"x":1}', live: true });
    await post(url, { id: 'a', kind: 'Event', modified: 4, data: '{"x":2}', live: false });
    expect(portal.portal.get('feed').fields.map((field) => [field.name, field.type, field.annotations?.['id'] ?? null])).toEqual([
      ['id', 'text', true],
      ['kind', 'text', null],
      ['modified', 'int', null],
      ['data', 'text', null],
      ['live', 'boolean', null],
    ]);
    expect(portal.push.records('feed')).toEqual([{ id: 'a', kind: 'Event', modified: 4, data: '{"x":2}', live: false }]);
    expect((await post(url, { id: 'b', extra: 1 })).status).toBe(400);
  });

  it('faults: a 500 applies nothing; a connection dropped before applying applies nothing; one dropped after applying applied the records', async () => {
    const portal = await start();
    const url = portal.pushUrl('readings');
    portal.injectFault({ type: 'status', status: 500 }, { on: 'push' });
    expect((await post(url, { sensor: 'a', kind: 'k', value: 1 })).status).toBe(500);
    expect(portal.push.count('readings')).toBe(0);
    portal.injectFault({ type: 'drop' }, { on: 'push' });
    await expect(post(url, { sensor: 'b', kind: 'k', value: 1 })).rejects.toThrow();
    expect(portal.push.count('readings')).toBe(0);
    portal.injectFault({ type: 'drop', afterApplying: true }, { on: 'push' });
    await expect(post(url, { sensor: 'c', kind: 'k', value: 1 })).rejects.toThrow();
    expect(portal.push.records('readings')).toEqual([{ sensor: 'c', kind: 'k', value: 1 }]);
    portal.injectFault({ type: 'drop', afterApplying: true }, { on: 'push-delete' });
    await expect(post(deleteUrl(url), { sensor: 'c', kind: 'k', value: 1 })).rejects.toThrow();
    expect(portal.push.count('readings')).toBe(0);
    expect(portal.push.log.map((entry) => [entry.operation, entry.status, entry.applied, entry.fault])).toEqual([
      ['push', 500, false, 'status'],
      ['push', undefined, false, 'drop'],
      ['push', undefined, true, 'drop'],
      ['delete', undefined, true, 'drop'],
    ]);
  });

  it('logs each request with its time, path without the key, size and record count', async () => {
    const times = [new Date('2026-12-03T10:00:00Z'), new Date('2026-12-03T10:00:05Z')];
    let clock = times[0] as Date;
    const portal = await start({ now: () => clock });
    const url = portal.pushUrl('readings');
    const body = JSON.stringify([{ sensor: 'a', kind: 'k', value: 1 }, { sensor: 'b', kind: 'k', value: 2 }]);
    await post(url, body);
    clock = times[1] as Date;
    await post(url.replace('k-plain', 'nope'), { sensor: 'c' });
    expect(portal.push.log).toHaveLength(2);
    const [first, second] = portal.push.log;
    expect(first).toMatchObject({ at: times[0], method: 'POST', operation: 'push', path: '/api/push/1.0/readings/realtime/push/', dataset: 'readings', resource: 'realtime', bytes: Buffer.byteLength(body), records: 2, status: 200 });
    expect(second).toMatchObject({ at: times[1], status: 401, records: 0, applied: false, error: 'The push key is not valid for this resource.' });
    expect(JSON.stringify(portal.push.log)).not.toContain('k-plain');
    expect(first?.ms).toBeGreaterThanOrEqual(0);
  });

  it('property: any sequence of pushes and deletes leaves the records a model keyed by the id fields predicts', async () => {
    const recordArb = fc.record({ sensor: fc.constantFrom('s1', 's2', 's3'), kind: fc.constantFrom('temp', 'hum'), value: fc.integer({ min: 0, max: 3 }) });
    const stepArb = fc.record({ op: fc.constantFrom('push', 'delete', 'delete-id'), keyed: fc.boolean(), records: fc.array(recordArb, { minLength: 1, maxLength: 4 }) });
    const portal = await start();
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { maxLength: 12 }), async (steps) => {
        portal.portal.get('readings').records.clear();
        portal.portal.get('sensors').records.clear();
        const models = { readings: new Map<string, RecordValues>(), sensors: new Map<string, RecordValues>() };
        for (const step of steps) {
          const dataset = step.keyed ? 'sensors' : 'readings';
          const keyOf = (values: RecordValues): string => JSON.stringify(step.keyed ? [values['kind'], values['sensor']] : [values['kind'], values['sensor'], values['value']]);
          const model = models[dataset];
          const url = portal.pushUrl(dataset);
          if (step.op === 'push') {
            expect((await post(url, step.records)).status).toBe(200);
            for (const values of step.records) {
              model.delete(keyOf(values));
              model.set(keyOf(values), values);
            }
          } else if (step.op === 'delete') {
            expect((await post(deleteUrl(url), step.records)).status).toBe(200);
            for (const values of step.records) model.delete(keyOf(values));
          } else {
            const target = step.records[0] as RecordValues;
            const id = [...portal.push.recordsById(dataset)].find(([, values]) => keyOf(values) === keyOf(target))?.[0] ?? '0'.repeat(40);
            expect((await get(url.replace('/push/?', `/${id}/delete/?`))).status).toBe(200);
            model.delete(keyOf(target));
          }
        }
        expect(byValues(portal.push.records('readings'))).toEqual(byValues([...models.readings.values()]));
        expect(byValues(portal.push.records('sensors'))).toEqual(byValues([...models.sensors.values()]));
      }),
      { numRuns: 50 },
    );
  });
});
