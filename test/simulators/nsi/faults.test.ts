import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNsiSimulator, type NsiSimulator } from '../../../src/simulators/nsi/nsi-simulator.js';
import { BASE_DATA, DF_TEST_DELETE, fixture } from './test-dataflows.js';

const CSV = 'application/vnd.sdmx.data+csv;version=2.0.0';
const DATA = '/data/OECD,DF_TEST_DELETE,1.0/all';

let sim: NsiSimulator;
let intact: string;

beforeAll(async () => {
  sim = await startNsiSimulator();
  sim.dataSpace.defineDataflow(DF_TEST_DELETE).upload(fixture(BASE_DATA));
  intact = (await read()).text;
});
afterAll(async () => {
  await sim.close();
});

interface Read {
  readonly status: number;
  readonly type: string;
  readonly text: string;
  readonly error: unknown;
  readonly retryAfter: unknown;
}

/** Reads whatever arrives, keeping what came before a failure. */
async function read(path = DATA, headers: Record<string, string> = { accept: CSV }): Promise<Read> {
  const response = await request(`${sim.url}${path}`, { headers });
  const parts: Buffer[] = [];
  let error: unknown;
  try {
    for await (const chunk of response.body) parts.push(chunk as Buffer);
  } catch (e) {
    error = e;
  }
  return {
    status: response.statusCode,
    type: String(response.headers['content-type']),
    text: Buffer.concat(parts).toString('utf8'),
    error,
    retryAfter: response.headers['retry-after'],
  };
}

describe('fault injection', () => {
  it('answers a status instead of the content, with Retry-After when given', async () => {
    sim.faults.inject({ type: 'status', status: 503, retryAfterSeconds: 7 });
    const answer = await read();
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBe('7');
    expect((await read()).text).toBe(intact);
  });

  it('answers an HTML page with status 200', async () => {
    sim.faults.inject({ type: 'html' });
    const answer = await read();
    expect(answer.status).toBe(200);
    expect(answer.type).toContain('text/html');
    expect(answer.text).toContain('<html>');
  });

  it('cuts the body after a number of bytes and drops the connection', async () => {
    sim.faults.inject({ type: 'cutBody', afterBytes: 300 });
    const answer = await read();
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(intact.slice(0, 300));
    expect(answer.error).toBeDefined();
  });

  it('fails mid-stream after some rows: an error text, then the connection drops', async () => {
    sim.faults.inject({ type: 'errorAfterRows', rows: 5 });
    const answer = await read();
    expect(answer.status).toBe(200);
    const lines = answer.text.split('\n');
    expect(lines.slice(0, 6)).toEqual(intact.split('\n').slice(0, 6));
    expect(lines[6]).toMatch(/^Error: 500 Internal Server Error/);
    expect(answer.error).toBeDefined();
  });

  it('inserts a row with an unknown action, or one with too many cells', async () => {
    sim.faults.inject({ type: 'badRow', afterRows: 2, kind: 'unknownAction' });
    const unknown = (await read()).text.split('\n');
    // Of the answer's own dataflow, in an ACTION column the full answer gets for it, with a cell per column.
    const intactLines = intact.split('\n');
    expect(intactLines[0]).not.toContain('ACTION');
    expect(unknown[0]).toBe(intactLines[0]!.replace('STRUCTURE_ID,', 'STRUCTURE_ID,ACTION,'));
    expect(unknown[1]).toBe(intactLines[1]!.replace('OECD:DF_TEST_DELETE(1.0),', 'OECD:DF_TEST_DELETE(1.0),I,'));
    expect(unknown[3]).toBe(`dataflow,OECD:DF_TEST_DELETE(1.0),X${','.repeat(unknown[0]!.split(',').length - 3)}`);
    expect(unknown.filter((l) => l !== '')).toHaveLength(intactLines.filter((l) => l !== '').length + 1);

    sim.faults.inject({ type: 'badRow', afterRows: 0, kind: 'tooManyCells' });
    const tooMany = (await read()).text.split('\n');
    const columns = tooMany[0]!.split(',').length;
    expect(tooMany[1]!.split(',').length).toBeGreaterThan(columns);
  });

  it('sends a slow body complete in the end', async () => {
    sim.faults.inject({ type: 'slowBody', delayMs: 2, rowsPerChunk: 10 });
    const answer = await read();
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(intact);
    expect(answer.error).toBeUndefined();
  });

  it('sends the first afterRows rows of a slow body at once, and pauses after them', async () => {
    const rows = intact.split('\n').filter((line) => line !== '').length - 1;
    const delayMs = 400;
    sim.faults.inject({ type: 'slowBody', delayMs, rowsPerChunk: 1, afterRows: rows - 1 });
    const started = Date.now();
    const response = await request(`${sim.url}${DATA}`, { headers: { accept: CSV } });
    let text = '';
    let complete: number | undefined;
    for await (const chunk of response.body) {
      text += (chunk as Buffer).toString('utf8');
      if (text === intact) complete ??= Date.now();
    }
    const ended = Date.now();
    expect(text).toBe(intact);
    // Paused before each row, the rows would take (rows - 1) pauses to arrive; they came at once.
    expect((complete ?? ended) - started).toBeLessThan(((rows - 1) * delayMs) / 2);
    // The pause after the last row: what follows afterRows is still slow.
    expect(ended - (complete ?? ended)).toBeGreaterThanOrEqual(delayMs - 50);
  });

  it('hits only the kind of answer and the number of times it was armed for', async () => {
    sim.faults.inject({ type: 'status', status: 500 }, { on: 'structure', times: 2 });
    expect((await read()).status).toBe(200);
    const structure = '/dataflow/OECD/DF_TEST_DELETE/1.0';
    expect((await read(structure, { accept: 'application/json' })).status).toBe(500);
    expect((await read(structure, { accept: 'application/json' })).status).toBe(500);
    expect((await read(structure, { accept: 'application/json' })).status).toBe(200);
    expect(sim.faults.pending).toBe(0);
  });

  it('cuts a gzip body on the wire, leaving an undecodable stream', async () => {
    sim.faults.inject({ type: 'cutBody', afterBytes: 100 });
    const response = await request(`${sim.url}${DATA}`, { headers: { accept: CSV, 'accept-encoding': 'gzip' } });
    expect(response.headers['content-encoding']).toBe('gzip');
    const raw: Buffer[] = [];
    await expect(
      (async () => {
        for await (const chunk of response.body) raw.push(chunk as Buffer);
      })(),
    ).rejects.toThrow();
    expect(Buffer.concat(raw).length).toBeLessThanOrEqual(100);
  });

  it('answers 500 languageTag1 without an explicit Accept-Language when asked to behave like the OECD gateway', async () => {
    sim.settings.requireAcceptLanguage = true;
    try {
      const bare = await read();
      expect(bare.status).toBe(500);
      expect(bare.text).toBe('languageTag1');
      expect((await read(DATA, { accept: CSV, 'accept-language': 'en' })).status).toBe(200);
    } finally {
      sim.settings.requireAcceptLanguage = false;
    }
  });
});
