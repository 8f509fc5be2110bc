import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpStatusError, OriginNotAllowedError } from '../../src/http/client.js';
import { HttpAbortError, HttpTimeoutError } from '../../src/http/errors.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { startServer, type LoopbackServer } from './loopback-server.js';

const fast = { maxRetries: 0, retryBaseDelayMs: 1, maxRetryDelayMs: 100 };

let server: LoopbackServer | undefined;
let client: UndiciHttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

describe('undici HTTP client: statuses', () => {
  it('hands back a 404 the caller accepts, body and all', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('NoRecordsFound');
    });
    client = createHttpClient(fast);
    const response = await client.request(`${server.origin}/data`, { acceptStatus: [404] });
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('NoRecordsFound');
  });

  it('throws HttpStatusError for a 404 the caller did not accept, without retrying', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(404);
      response.end('no such dataflow');
    });
    client = createHttpClient({ ...fast, maxRetries: 3 });
    const failure = (await failureOf(client.request(`${server.origin}/data`))) as HttpStatusError;
    expect(failure).toBeInstanceOf(HttpStatusError);
    expect(failure.status).toBe(404);
    expect(failure.bodySnippet).toBe('no such dataflow');
    expect(failure.message).toBe(`HTTP 404 from ${server.origin}/data: no such dataflow`);
    expect(server.requests).toHaveLength(1);
  });

  it('does not follow a redirect: the caller sees it and the target is never asked', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(302, { location: '/elsewhere' });
      response.end();
    });
    client = createHttpClient(fast);
    const response = await client.request(`${server.origin}/moved`, { acceptStatus: [302] });
    expect(response.status).toBe(302);
    expect(response.headers['location']).toBe('/elsewhere');
    await response.dump();
    expect(server.requests.map((request) => request.url)).toEqual(['/moved']);
  });

  it('keeps connections alive across requests whose bodies were read, dumped or refused', async () => {
    server = await startServer((request, response) => {
      response.writeHead(request.url === '/ok' ? 200 : 404);
      // Bodies larger than the socket buffers, so a client that gave up on them would lose the connection.
      response.end(request.url === '/ok' ? '/ok' : 'x'.repeat(100_000));
    });
    client = createHttpClient(fast);
    for (let round = 0; round < 3; round += 1) {
      expect(await (await client.request(`${server.origin}/ok`)).text()).toBe('/ok');
      await (await client.request(`${server.origin}/missing`, { acceptStatus: [404] })).dump();
      await expect(client.request(`${server.origin}/refused`)).rejects.toBeInstanceOf(HttpStatusError);
    }
    expect(server.requests).toHaveLength(9);
    // undici opens a second socket while it settles the first response; after that, every
    // request reuses one. A body left unfinished would cost a new connection each round.
    expect(server.connections()).toBeLessThanOrEqual(2);
  });

  it('sends URL userinfo as Basic auth, since undici would drop it', async () => {
    server = await startServer((request, response) => response.end(request.headers.authorization ?? 'none'));
    client = createHttpClient(fast);
    const withUserinfo = server.origin.replace('://', '://harvester:p%40ss@');
    const response = await client.request(`${withUserinfo}/feed`);
    expect(await response.text()).toBe(`Basic ${Buffer.from('harvester:p@ss').toString('base64')}`);
    expect(response.url).toBe(`${server.origin.replace('://', '://harvester:***@')}/feed`);
    const own = await client.request(`${withUserinfo}/feed`, { headers: { Authorization: 'Bearer mine' } });
    expect(await own.text()).toBe('Bearer mine');
  });

  it('parses the Date header into serverDate, and leaves it undefined when unreadable', async () => {
    server = await startServer((request, response) => {
      response.writeHead(200, { date: request.url === '/bad' ? 'yesterday-ish' : 'Tue, 15 Nov 1994 08:12:31 GMT' });
      response.end();
    });
    client = createHttpClient(fast);
    expect((await client.request(`${server.origin}/good`)).serverDate?.toISOString()).toBe('1994-11-15T08:12:31.000Z');
    expect((await client.request(`${server.origin}/bad`)).serverDate).toBeUndefined();
  });

  it('json() parses the body, and names the URL when it is not JSON', async () => {
    server = await startServer((request, response) => {
      response.end(request.url === '/ok' ? '{"items":[1,2]}' : '<html>maintenance</html>');
    });
    client = createHttpClient(fast);
    expect(await (await client.request(`${server.origin}/ok`)).json()).toEqual({ items: [1, 2] });
    const failure = (await failureOf((await client.request(`${server.origin}/html`)).json())) as Error;
    expect(failure).toBeInstanceOf(SyntaxError);
    expect(failure.message).toContain(`the body of ${server.origin}/html is not valid JSON`);
  });
});

describe('undici HTTP client: allowed origins', () => {
  it('refuses a URL outside the allow-list before connecting', async () => {
    server = await startServer((_request, response) => response.end());
    client = createHttpClient(fast);
    const failure = await failureOf(
      client.request(`${server.origin}/feed?afterTimestamp=1`, { allowedOrigins: ['https://opendata.example.org'] }),
    );
    expect(failure).toBeInstanceOf(OriginNotAllowedError);
    expect((failure as Error).message).toContain(`${server.origin}/feed`);
    expect(server.connections()).toBe(0);
    expect(server.requests).toHaveLength(0);
  });

  it('compares origins as URLs: case and a trailing slash do not matter, scheme and port do', async () => {
    server = await startServer((_request, response) => response.end('ok'));
    client = createHttpClient(fast);
    const port = new URL(server.origin).port;
    const response = await client.request(`${server.origin}/feed`, { allowedOrigins: [`HTTP://127.0.0.1:${port}/`] });
    expect(response.status).toBe(200);
    await response.dump();
    await expect(client.request(`${server.origin}/feed`, { allowedOrigins: [`https://127.0.0.1:${port}`] })).rejects.toBeInstanceOf(
      OriginNotAllowedError,
    );
    await expect(
      client.request(`${server.origin}/feed`, { allowedOrigins: [`http://127.0.0.1:${Number(port) + 1}`] }),
    ).rejects.toBeInstanceOf(OriginNotAllowedError);
    expect(server.requests).toHaveLength(1);
  });
});

describe('undici HTTP client: timeouts and aborts', () => {
  it('a body that stalls times out on the stream with an error naming the URL', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"items":[');
    });
    client = createHttpClient({ ...fast, bodyTimeoutMs: 300 });
    const response = await client.request(`${server.origin}/feed`);
    const failure = (await failureOf(response.json())) as HttpTimeoutError;
    expect(failure).toBeInstanceOf(HttpTimeoutError);
    expect(failure.phase).toBe('body');
    expect(failure.message).toBe(`timed out after 300 ms waiting for more of the body of ${server.origin}/feed`);
  });

  it('a server that never answers times out waiting for headers', async () => {
    server = await startServer(() => {
      // never answers
    });
    client = createHttpClient({ ...fast, headersTimeoutMs: 300 });
    const failure = (await failureOf(client.request(`${server.origin}/slow`))) as HttpTimeoutError;
    expect(failure).toBeInstanceOf(HttpTimeoutError);
    expect(failure.phase).toBe('headers');
    expect(failure.message).toContain(`${server.origin}/slow`);
  });

  it('aborting mid-body destroys the body stream with an AbortError', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(200);
      response.write('first rows\n');
    });
    client = createHttpClient({ ...fast, bodyTimeoutMs: 60_000 });
    const controller = new AbortController();
    const response = await client.request(`${server.origin}/big`, { signal: controller.signal });
    const failure = await failureOf(
      (async () => {
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          expect(chunk.toString()).toBe('first rows\n');
          controller.abort();
        }
      })(),
    );
    expect(failure).toBeInstanceOf(HttpAbortError);
    expect((failure as Error).name).toBe('AbortError');
    expect(response.body.destroyed).toBe(true);
  });

  it('an already aborted signal sends nothing', async () => {
    server = await startServer((_request, response) => response.end());
    client = createHttpClient(fast);
    const failure = await failureOf(client.request(`${server.origin}/x`, { signal: AbortSignal.abort() }));
    expect((failure as Error).name).toBe('AbortError');
    expect(server.requests).toHaveLength(0);
  });

  it('aborting while waiting for headers rejects with an AbortError', async () => {
    const controller = new AbortController();
    server = await startServer(() => controller.abort());
    client = createHttpClient({ ...fast, maxRetries: 3 });
    const failure = await failureOf(client.request(`${server.origin}/x`, { signal: controller.signal }));
    expect(failure).toBeInstanceOf(HttpAbortError);
    expect(server.requests).toHaveLength(1);
  });
});

describe('undici HTTP client: whether the end of a body can be told from a cut', () => {
  it.each([
    ['a Content-Length', true, (response: ServerResponse) => response.writeHead(200, { 'content-length': '5' }).end('a,b\nc')],
    ['chunked framing', true, (response: ServerResponse) => {
      response.writeHead(200);
      response.write('a,b\n');
      response.end('c');
    }],
    ['gzip without a length (its stream marks its end)', true, (response: ServerResponse) => {
      response.socket?.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\nconnection: close\r\n\r\n'), gzipSync('a,b\nc')]));
    }],
    ['only the connection closing', false, (response: ServerResponse) => {
      response.socket?.end('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\na,b\nc');
    }],
  ])('%s: endVerified is %s', async (_framing, verified, answer) => {
    server = await startServer((_request, response) => answer(response));
    client = createHttpClient(fast);
    const response = await client.request(`${server.origin}/data`);
    expect(response.endVerified).toBe(verified);
    expect(await response.text()).toBe('a,b\nc');
  });
});
