import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpClientFor } from '../../src/cli/http-client-for.js';
import { parseConfig } from '../../src/config/load.js';
import { expandJobs } from '../../src/daemon/streams.js';
import type { UndiciHttpClient } from '../../src/http/undici-client.js';
import { runStream } from '../../src/runner/run-stream.js';
import { startNsiSimulator } from '../../src/simulators/nsi/nsi-simulator.js';
import { startOdsSimulator } from '../../src/simulators/ods/ods-simulator.js';
import { startRpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { builtInKinds } from '../../src/sources/registry.js';
import type { Store } from '../../src/store/store.js';
import { memoryLogger } from '../helpers/silent-log.js';
import { tempSqliteStore } from '../helpers/stores.js';
import { testResolver } from '../helpers/test-resolver.js';

/**
 * Every kind of source through the HTTP client the daemon builds from its config
 * (httpClientFor): hosts the jobs name are reached wherever they are (the simulators on loopback),
 * while a host that a remote answer names (a feed a catalog lists, a redirect's Location) and that
 * resolves to a loopback address is refused before any connection, unless client.allowedNetworks
 * allows it. `inside.test` stands for such a name: the test's resolver maps it to 127.0.0.1.
 */
const lookup = testResolver({ 'inside.test': ['127.0.0.1'] });
const log = memoryLogger('warn').log;

let closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.reverse()) await close();
  closers = [];
});

async function setUp(config: Record<string, unknown>): Promise<{ store: Store; http: UndiciHttpClient; sync: () => Promise<string[]> }> {
  const { config: parsed } = parseConfig(JSON.stringify({ store: { engine: 'sqlite', path: 'unused.db' }, client: { retries: 0 }, ...config }), 'test', builtInKinds, {});
  const { store, cleanup } = await tempSqliteStore();
  const http = httpClientFor(parsed, log, lookup);
  closers.push(cleanup, () => http.close());
  const signal = new AbortController().signal;
  /** Expands every job and runs each stream once: the outcome of each, or of the expansion. */
  const sync = async () => {
    const { streams, failures } = await expandJobs(parsed, builtInKinds, { http, log, signal });
    const outcomes = failures.map(({ job, error }) => `job ${job.id}: ${(error as Error).message}`);
    for (const stream of streams) {
      outcomes.push(
        await runStream({ store, source: stream.source, http, log, signal }).then(
          () => `${stream.id}: ok`,
          (error: unknown) => `${stream.id}: ${(error as Error).message}`,
        ),
      );
    }
    return outcomes;
  };
  return { store, http, sync };
}

/** A loopback server answering every request with `answer`; counts the connections it accepted. */
async function loopbackServer(answer: (path: string, origin: string) => { status: number; headers?: Record<string, string>; body?: string }) {
  let connections = 0;
  const paths: string[] = [];
  const server: Server = createServer((request, response) => {
    paths.push(request.url ?? '');
    const { status, headers, body } = answer(request.url ?? '/', origin);
    response.writeHead(status, headers);
    response.end(body ?? '');
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return { origin, port, paths, connections: () => connections };
}

describe('SSRF: hosts a job names are reached on loopback, hosts a remote answer names are not', () => {
  it('sdmx: a configured endpoint on loopback syncs; a redirect to another host is not followed', async () => {
    const nsi = await startNsiSimulator();
    closers.push(() => nsi.close());
    const flow = nsi.dataSpace.defineDataflow({ agency: 'T', id: 'DF', version: '1.0', dimensions: ['FREQ'], measures: ['OBS_VALUE'], attributes: [] });
    flow.batch((m) => m.mergeObservation({ FREQ: 'A', TIME_PERIOD: '2024' }, { OBS_VALUE: '1' }));
    const inside = await loopbackServer(() => ({ status: 200, body: 'internal' }));
    const moved = await loopbackServer(() => ({ status: 302, headers: { location: `http://inside.test:${inside.port}/rest/data` } }));
    const { sync } = await setUp({
      jobs: [
        { id: 'ok', kind: 'sdmx', endpoint: nsi.url, dataflows: ['T:DF(1.0)'] },
        { id: 'moved', kind: 'sdmx', endpoint: `${moved.origin}/rest`, dataflows: [{ ref: 'T:DF(1.0)', prefix: 'moved' }] },
      ],
    });
    const outcomes = await sync();
    expect(outcomes).toContain('sdmx:ok:T:DF(1.0):data: ok');
    expect(outcomes.find((line) => line.startsWith('sdmx:moved'))).toMatch(/HTTP 302/);
    expect(inside.connections()).toBe(0);
  });

  it('ods-catalog and ods-records: a configured portal on loopback syncs; a redirect to another host is not followed', async () => {
    const ods = await startOdsSimulator();
    closers.push(() => ods.close());
    const inside = await loopbackServer(() => ({ status: 200, body: '{}' }));
    const moved = await loopbackServer(() => ({ status: 301, headers: { location: `http://inside.test:${inside.port}/api/explore/v2.1/catalog/datasets` } }));
    const { sync } = await setUp({
      jobs: [
        { id: 'cat', kind: 'ods-catalog', portal: ods.url },
        { id: 'moved', kind: 'ods-catalog', portal: moved.origin },
        { id: 'rec', kind: 'ods-records', portal: moved.origin, datasets: ['trees'] },
      ],
    });
    const outcomes = await sync();
    expect(outcomes).toContain('ods:cat:catalog: ok');
    expect(outcomes.find((line) => line.startsWith('ods:moved:catalog'))).toMatch(/301/);
    expect(outcomes.find((line) => line.startsWith('ods:rec:trees'))).toMatch(/301/);
    expect(inside.connections()).toBe(0);
  });

  it('rpde: a configured feed on loopback syncs; a feed that a catalog lists on a loopback host it does not name is refused, unless allowedNetworks allows it', async () => {
    const publisher = await startRpdePublisher({ items: 3 });
    closers.push(() => publisher.close());
    const feedPath = new URL(publisher.url).pathname;
    const listed = `http://inside.test:${new URL(publisher.origin).port}${feedPath}`;
    const site = await loopbackServer(() => ({
      status: 200,
      headers: { 'content-type': 'application/ld+json' },
      body: JSON.stringify({
        '@context': 'https://schema.org/',
        '@type': 'Dataset',
        distribution: [{ '@type': 'DataDownload', additionalType: 'https://openactive.io/SessionSeries', contentUrl: listed, encodingFormat: 'application/vnd.openactive.rpde+json; version=1' }],
      }),
    }));
    const jobs = [
      { id: 'direct', kind: 'rpde', feeds: [publisher.url] },
      { id: 'listed', kind: 'rpde', datasetSite: `${site.origin}/site` },
    ];
    const before = publisher.requests.length;
    const refused = await (await setUp({ jobs })).sync();
    expect(refused.find((line) => line.startsWith('rpde:direct'))).toMatch(/: ok$/);
    const listedOutcome = refused.find((line) => line.startsWith('rpde:listed'));
    expect(listedOutcome).toMatch(/refusing to connect to inside\.test \(127\.0\.0\.1\).*client\.allowedNetworks/);
    expect(publisher.requests.slice(before).filter((request) => request.host?.startsWith('inside.test'))).toEqual([]);

    // (The publisher writes its next links with its own address, which then leaves the feed's origin: C7, another rule.)
    const allowed = await (await setUp({ jobs, client: { retries: 0, allowedNetworks: ['127.0.0.0/8'] } })).sync();
    expect(allowed.find((line) => line.startsWith('rpde:listed'))).not.toMatch(/refusing to connect/);
    expect(publisher.requests.some((request) => request.host?.startsWith('inside.test'))).toBe(true);
  });

  it('rpde: a redirect of a discovery request to a loopback host the config does not name is refused before connecting', async () => {
    const inside = await loopbackServer(() => ({ status: 200, headers: { 'content-type': 'application/ld+json' }, body: '{}' }));
    const site = await loopbackServer(() => ({ status: 302, headers: { location: `http://inside.test:${inside.port}/site` } }));
    const outcomes = await (await setUp({ jobs: [{ id: 'site', kind: 'rpde', datasetSite: `${site.origin}/site` }] })).sync();
    expect(outcomes).toEqual([expect.stringMatching(/^job site: .*refusing to connect to inside\.test \(127\.0\.0\.1\)/)]);
    expect(inside.connections()).toBe(0);
  });
});
