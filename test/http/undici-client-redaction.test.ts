import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { capturingLogger, startServer, type LoopbackServer } from './loopback-server.js';

const APIKEY = 'ak-7f3e9c2d51';
const BEARER = 'bearer-91c0ffee';
const PASSWORD = 'pw-5e5a3e';

let server: LoopbackServer | undefined;
let client: UndiciHttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error,
  );
}

/** Everything about an error that could reach a log or `last_error`: message, stack, causes, fields. */
function everythingAbout(error: Error): string {
  return [error.message, error.stack ?? '', inspect(error, { depth: 10 }), JSON.stringify(error)].join('\n');
}

function expectNoSecret(text: string): void {
  expect(text).not.toContain(APIKEY);
  expect(text).not.toContain(BEARER);
  expect(text).not.toContain(PASSWORD);
}

const secretUrl = (origin: string, path: string) => `${origin.replace('://', `://harvester:${PASSWORD}@`)}${path}?where=x&apikey=${APIKEY}`;

describe('undici HTTP client: secrets never leave through errors or logs', () => {
  it('a status error, its body echo and the retry log lines are redacted', async () => {
    server = await startServer((request, response) => {
      response.writeHead(500, { 'content-type': 'text/plain' });
      // Servers do quote the failing request back, query and credentials included.
      response.end(`failed: ${request.url ?? ''} with ${request.headers.authorization ?? ''}`);
    });
    const { log, lines } = capturingLogger();
    client = createHttpClient({ maxRetries: 1, retryBaseDelayMs: 1, log });
    const failure = await failureOf(
      client.request(secretUrl(server.origin, '/records'), { headers: { Authorization: `Bearer ${BEARER}` } }),
    );
    expect(failure.message).toContain(`${server.origin.replace('://', '://harvester:***@')}/records?where=x&apikey=***`);
    expect(server.requests[0]?.url).toContain(APIKEY);
    expectNoSecret(everythingAbout(failure));
    expect(lines.some((line) => line.includes('retrying') && line.includes('apikey=***'))).toBe(true);
    expectNoSecret(lines.join('\n'));
  });

  it('a network error is redacted', async () => {
    server = await startServer((_request, response) => response.end());
    const origin = server.origin;
    await server.close();
    server = undefined;
    const { log, lines } = capturingLogger();
    client = createHttpClient({ maxRetries: 1, retryBaseDelayMs: 1, log });
    const failure = await failureOf(client.request(secretUrl(origin, '/records')));
    expect(failure.message).toContain('apikey=***');
    expectNoSecret(everythingAbout(failure));
    expect(lines.length).toBeGreaterThan(0);
    expectNoSecret(lines.join('\n'));
  });

  it('a headers timeout is redacted', async () => {
    server = await startServer(() => {
      // never answers
    });
    client = createHttpClient({ maxRetries: 0, headersTimeoutMs: 200 });
    const failure = await failureOf(client.request(secretUrl(server.origin, '/slow')));
    expect(failure.message).toContain('apikey=***');
    expectNoSecret(everythingAbout(failure));
  });

  it('body errors, the response URL and a JSON error are redacted', async () => {
    server = await startServer((request, response) => {
      if (request.url?.startsWith('/cut')) {
        response.writeHead(200);
        response.write('partial');
        setTimeout(() => request.socket.destroy(), 20);
        return;
      }
      response.end(`<html>not json: ${request.url ?? ''}</html>`);
    });
    client = createHttpClient({ maxRetries: 0 });
    const cut = await client.request(secretUrl(server.origin, '/cut'));
    expect(cut.url).toContain('apikey=***');
    expectNoSecret(cut.url);
    const bodyFailure = await failureOf(cut.text());
    expect(bodyFailure.message).toContain('apikey=***');
    expectNoSecret(everythingAbout(bodyFailure));
    const html = await client.request(secretUrl(server.origin, '/page'));
    expectNoSecret(everythingAbout(await failureOf(html.json())));
  });

  it('an origin refusal is redacted', async () => {
    client = createHttpClient({ maxRetries: 0 });
    const failure = await failureOf(
      client.request(`https://harvester:${PASSWORD}@elsewhere.example.org/feed?apikey=${APIKEY}`, {
        allowedOrigins: ['https://portal.example.org'],
      }),
    );
    expect(failure.message).toContain('apikey=***');
    expectNoSecret(everythingAbout(failure));
  });

  it('debug and trace logging of a successful request carries no secret', async () => {
    server = await startServer((_request, response) => response.end('ok'));
    const { log, lines } = capturingLogger();
    client = createHttpClient({ log });
    await (await client.request(secretUrl(server.origin, '/ok'), { headers: { authorization: `Bearer ${BEARER}` } })).dump();
    expect(lines.some((line) => line.includes('apikey=***'))).toBe(true);
    expectNoSecret(lines.join('\n'));
  });
});
