import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type UndiciHttpClient } from '../../../src/http/undici-client.js';
import { discoverFeeds } from '../../../src/sources/rpde/discovery.js';
import { rpdeKind } from '../../../src/sources/rpde/kind.js';
import { RpdeFeedSource } from '../../../src/sources/rpde/rpde-source.js';
import { memoryLogger } from '../../helpers/silent-log.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/rpde/${name}`, import.meta.url), 'utf8');

/**
 * The real catalog, dataset-site and JSON-LD files, served over loopback with their remote URLs
 * pointed at this server: the collection's four catalogs become one 403 (the Legend WAF case),
 * one that links back to the collection (a cycle), singular.jsonld, and one listing a dataset site
 * again (a duplicate). singular.jsonld's dataset sites become the HTML site, the raw JSON-LD site,
 * a redirect to the HTML site, a 404, and the raw site again under another URL.
 */
let server: Server;
let base: string;
let http: UndiciHttpClient;
const requested: string[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const path = request.url ?? '/';
    requested.push(path);
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': type, ...headers });
      response.end(body);
    };
    switch (path) {
      case '/data-catalog-collection.jsonld':
        return send(200, 'application/ld+json', collection());
      case '/catalogs/leisurecloud':
        return send(403, 'text/html', '<html>Forbidden</html>');
      case '/catalogs/legend':
        return send(200, 'application/json', JSON.stringify({ '@type': 'DataCatalog', hasPart: [`${base}/data-catalog-collection.jsonld`] }));
      case '/catalogs/singular.jsonld':
        return send(200, 'application/ld+json', singular());
      case '/catalogs/bookteq':
        return send(200, 'application/json', JSON.stringify({ '@type': 'DataCatalog', dataset: [`${base}/sites/0`, { '@id': `${base}/sites/1` }] }));
      case '/sites/0':
        return send(200, 'text/html; charset=utf-8', fixture('exampleDatasetSite.html'));
      case '/sites/1':
      case '/sites/4':
        return send(200, 'application/ld+json', fixture('example.jsonld'));
      case '/sites/2':
        return send(301, 'text/plain', '', { location: '/sites/0' });
      default:
        return send(404, 'text/plain', 'not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  http = createHttpClient({ maxRetries: 0 });
});

afterAll(async () => {
  await http.close();
  await new Promise((resolve) => server.close(resolve));
});

function collection(): string {
  return fixture('data-catalog-collection.jsonld')
    .replace('https://opendata.leisurecloud.live/api/datacatalog', `${base}/catalogs/leisurecloud`)
    .replace('https://openactivedatacatalog.legendonlineservices.co.uk/api/DataCatalog', `${base}/catalogs/legend`)
    .replace('https://openactive.io/data-catalogs/singular.jsonld', `${base}/catalogs/singular.jsonld`)
    .replace('https://app.bookteq.com/api/openactive/catalogue', `${base}/catalogs/bookteq`);
}

function singular(): string {
  const json = JSON.parse(fixture('singular.jsonld')) as { dataset: string[] };
  // Keep the real list's length: its first five entries map to the cases above, the rest 404.
  json.dataset = json.dataset.map((_, i) => `${base}/sites/${i}`);
  return JSON.stringify(json);
}

const exampleFeeds = [
  'https://www.example.com/feeds/scheduled-sessions',
  'https://www.example.com/feeds/session-series',
  'https://www.example.com/feeds/events',
  'https://www.example.com/feeds/facility-uses',
  'https://www.example.com/feeds/facility-use-slots',
  'https://www.example.com/feeds/course-instances',
];

describe('RPDE feed discovery', () => {
  it('finds the feed in a dataset site HTML page (JSON-LD in a script tag), non-standard additionalType and all', async () => {
    const result = await discoverFeeds({ datasetSite: `${base}/sites/0` }, { http, signal: new AbortController().signal });
    expect(result.feeds).toEqual([
      {
        url: 'https://www.example.com/feeds/events',
        dataset: 'https://reference-implementation.openactive.io/openactive/',
        additionalType: 'https://openactive.io/Events',
        name: expect.any(String) as unknown,
      },
    ]);
  });

  it('finds the six RPDE distributions of a raw JSON-LD dataset site', async () => {
    const result = await discoverFeeds({ datasetSite: `${base}/sites/1` }, { http, signal: new AbortController().signal });
    expect(result.feeds.map((feed) => feed.url)).toEqual(exampleFeeds);
    expect(result.feeds[1]?.additionalType).toBe('https://openactive.io/SessionSeries');
  });

  it('walks the catalog collection: cycle-safe, duplicates listed once, broken leaves reported and skipped', async () => {
    requested.length = 0;
    const result = await discoverFeeds(
      { dataCatalog: `${base}/data-catalog-collection.jsonld` },
      { http, signal: new AbortController().signal },
    );
    expect(new Set(result.feeds.map((feed) => feed.url))).toEqual(new Set(exampleFeeds));
    expect(result.feeds).toHaveLength(exampleFeeds.length);
    // Every document read once, the cycle back to the collection included.
    expect(requested.filter((path) => path === '/data-catalog-collection.jsonld')).toHaveLength(1);
    expect(new Set(requested).size).toBe(requested.length);
    expect(result.problems.some((problem) => problem.includes('/catalogs/leisurecloud') && problem.includes('403'))).toBe(true);
    expect(result.problems.some((problem) => problem.includes('/sites/3'))).toBe(true);
  });

  it('fails when the root itself cannot be read', async () => {
    await expect(
      discoverFeeds({ dataCatalog: `${base}/catalogs/leisurecloud` }, { http, signal: new AbortController().signal }),
    ).rejects.toThrow(/feed discovery failed at .*leisurecloud/);
  });

  it('expands an rpde job with a dataset site into one stream per feed, named after the feed path', async () => {
    const options = rpdeKind.options.parse({ datasetSite: `${base}/sites/1` });
    const streams = await rpdeKind.expand({ id: 'fusion', kind: 'rpde' }, options, {
      http,
      log: memoryLogger().log,
      signal: new AbortController().signal,
    });
    expect(streams.map((stream) => stream.id)).toEqual([
      'rpde:fusion:scheduled-sessions',
      'rpde:fusion:session-series',
      'rpde:fusion:events',
      'rpde:fusion:facility-uses',
      'rpde:fusion:facility-use-slots',
      'rpde:fusion:course-instances',
    ]);
    expect((streams[1] as RpdeFeedSource).table).toBe('fusion_session_series_items');
    expect((streams[1] as RpdeFeedSource).pollIntervalMs).toBe(30_000);
  });

  it('rejects an rpde job without feeds, datasetSite or dataCatalog, and a poll interval under 8s', () => {
    const empty = rpdeKind.options.safeParse({});
    expect(empty.success).toBe(false);
    expect(empty.error?.issues[0]?.message).toMatch(/needs feeds, datasetSite or dataCatalog/);
    expect(rpdeKind.options.safeParse({ feeds: ['https://e.com/f'], pollInterval: '5s' }).success).toBe(false);
    expect(rpdeKind.options.safeParse({ feeds: ['ftp://e.com/f'] }).success).toBe(false);
  });
});
