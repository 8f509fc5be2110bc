import { afterEach, describe, expect, it } from 'vitest';
import { startOdsSimulator, type OdsSimulator, type OdsSimulatorOptions } from '../../../src/simulators/ods/ods-simulator.js';

const AUTOMATION = '/api/automation/v1.0';
const KEY = 'automation-secret';

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

let sim: OdsSimulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: OdsSimulatorOptions = {}): Promise<OdsSimulator> {
  sim = await startOdsSimulator({
    automationKey: KEY,
    realtime: [{ dataset: 'readings', resource: 'realtime', pushKey: 'pk', fields: [{ name: 'sensor', type: 'text' }, { name: 'value', type: 'int' }] }],
    ...options,
  });
  return sim;
}

async function call(portal: OdsSimulator, method: 'GET' | 'POST', path: string, key: string | null = KEY): Promise<Answer> {
  const response = await fetch(`${portal.url}${AUTOMATION}${path}`, { method, headers: key === null ? {} : { authorization: `apikey ${key}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function push(portal: OdsSimulator, values: object): Promise<number> {
  const response = await fetch(portal.pushUrl('readings'), { method: 'POST', body: JSON.stringify(values) });
  await response.arrayBuffer();
  return response.status;
}

describe('the Automation API empties a realtime dataset by unpublishing and publishing it', () => {
  it('looks a dataset up by its dataset_id to give its uid', async () => {
    const portal = await start();
    portal.portal.addDataset({ id: 'other', fields: [] });
    const answer = await call(portal, 'GET', '/datasets/?dataset_id=readings');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ total_count: 1, next: null, previous: null, results: [{ uid: portal.portal.get('readings').uid, dataset_id: 'readings', is_published: true }] });
    expect((await call(portal, 'GET', '/datasets/?limit=0')).body).toMatchObject({ total_count: 2, results: [] });
    expect((await call(portal, 'GET', `/datasets/${portal.portal.get('other').uid}/`)).body).toMatchObject({ dataset_id: 'other' });
    expect(await call(portal, 'GET', '/datasets/da_nothing/status/')).toEqual({ status: 404, body: { error_code: 'not_found', message: 'Not found.' } });
  });

  it('unpublish, status until idle, publish: the pushed records are gone, pushes are refused meanwhile and taken again after', async () => {
    const portal = await start({ processingPolls: 2 });
    expect(await push(portal, [{ sensor: 'a', value: 1 }, { sensor: 'b', value: 2 }])).toBe(200);
    const uid = portal.portal.get('readings').uid;

    expect(await call(portal, 'POST', `/datasets/${uid}/unpublish/`)).toEqual({ status: 200, body: { detail: 'ok' } });
    expect(portal.push.count('readings')).toBe(0);
    expect(await push(portal, { sensor: 'c', value: 3 })).toBe(400);
    expect((await fetch(`${portal.url}/api/explore/v2.1/catalog/datasets/readings`)).status).toBe(404);

    const early = await call(portal, 'POST', `/datasets/${uid}/publish/`);
    expect(early.status).toBe(400);
    expect(early.body).toEqual({ error_code: 'invalid_dataset_status', message: "Invalid precondition, dataset status is 'processing' but must be one of 'idle, error, limit_reached'" });

    const statuses: unknown[] = [];
    for (;;) {
      const status = await call(portal, 'GET', `/datasets/${uid}/status/`);
      statuses.push(status.body['status']);
      if (status.body['status'] === 'idle') {
        expect(status.body).toMatchObject({ is_published: false, previous: 'processing', records_errors: [] });
        break;
      }
    }
    expect(statuses).toEqual(['processing', 'processing', 'idle']);

    expect((await call(portal, 'POST', `/datasets/${uid}/publish/`)).status).toBe(200);
    expect(await push(portal, { sensor: 'c', value: 3 })).toBe(200);
    expect(portal.push.records('readings')).toEqual([{ sensor: 'c', value: 3 }]);
    expect((await fetch(`${portal.url}/api/explore/v2.1/catalog/datasets/readings`)).status).toBe(200);

    expect(portal.automation.calls.map((entry) => [entry.method, entry.operation, entry.status])).toEqual([
      ['POST', 'unpublish', 200],
      ['POST', 'publish', 400],
      ['GET', 'status', 200],
      ['GET', 'status', 200],
      ['GET', 'status', 200],
      ['POST', 'publish', 200],
    ]);
    expect(portal.automation.calls.every((entry) => entry.datasetUid === uid)).toBe(true);
  });

  it('a file-sourced dataset keeps its records through an unpublish (only pushed records are lost)', async () => {
    const portal = await start({ processingPolls: 0 });
    portal.portal.addDataset({ id: 'trees', fields: [{ name: 'n', type: 'int' }], records: [{ n: 1 }] });
    const uid = portal.portal.get('trees').uid;
    await call(portal, 'POST', `/datasets/${uid}/unpublish/`);
    expect(portal.automation.status(uid)).toBe('idle');
    expect(portal.portal.get('trees').records.size).toBe(1);
  });

  it('asks for the key: none is not_authenticated, a wrong one authentication_failed, ?apikey= works too', async () => {
    const portal = await start();
    const uid = portal.portal.get('readings').uid;
    expect(await call(portal, 'POST', `/datasets/${uid}/unpublish/`, null)).toEqual({
      status: 401,
      body: { error_code: 'not_authenticated', message: 'Authentication credentials were not provided.' },
    });
    expect((await call(portal, 'POST', `/datasets/${uid}/unpublish/`, 'wrong')).body['error_code']).toBe('authentication_failed');
    expect(portal.portal.get('readings').published).toBe(true);
    expect((await call(portal, 'GET', `/datasets/?dataset_id=readings&apikey=${KEY}`, null)).status).toBe(200);
  });

  it('disables and enables a realtime resource', async () => {
    const portal = await start();
    const uid = portal.portal.get('readings').uid;
    expect((await call(portal, 'POST', `/datasets/${uid}/resources/realtime/disable/`)).status).toBe(200);
    expect(await push(portal, { sensor: 'a', value: 1 })).toBe(400);
    expect((await call(portal, 'POST', `/datasets/${uid}/resources/realtime/enable/`)).status).toBe(200);
    expect(await push(portal, { sensor: 'a', value: 1 })).toBe(200);
    expect((await call(portal, 'POST', `/datasets/${uid}/resources/nothing/enable/`)).status).toBe(404);
  });
});
