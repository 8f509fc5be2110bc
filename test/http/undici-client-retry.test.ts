import { afterEach, describe, expect, it } from 'vitest';
import { HttpStatusError } from '../../src/http/client.js';
import { HttpAbortError, HttpNetworkError, HttpTimeoutError } from '../../src/http/errors.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { capturingLogger, startServer, type LoopbackServer } from './loopback-server.js';

/** Backoff small enough that retries do not slow the suite; Retry-After is what tests wait on. */
const quick = { maxRetries: 3, retryBaseDelayMs: 1, maxRetryDelayMs: 5_000 };

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

describe('undici HTTP client: retries', () => {
  it('retries a 503 and returns the 200 that follows', async () => {
    server = await startServer((_request, response, index) => {
      response.writeHead(index === 0 ? 503 : 200);
      response.end(index === 0 ? 'busy' : 'fine');
    });
    client = createHttpClient(quick);
    const response = await client.request(`${server.origin}/data`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('fine');
    expect(server.requests).toHaveLength(2);
  });

  it('retries a 429', async () => {
    server = await startServer((_request, response, index) => {
      response.writeHead(index === 0 ? 429 : 200);
      response.end(index === 0 ? 'slow down' : 'fine');
    });
    client = createHttpClient(quick);
    expect((await client.request(`${server.origin}/data`)).status).toBe(200);
    expect(server.requests).toHaveLength(2);
  });

  it('waits at least the Retry-After seconds before the next try', async () => {
    server = await startServer((_request, response, index) => {
      response.writeHead(index === 0 ? 503 : 200, index === 0 ? { 'retry-after': '1' } : {});
      response.end();
    });
    client = createHttpClient(quick);
    expect((await client.request(`${server.origin}/data`)).status).toBe(200);
    const [first, second] = server.requests;
    // Timers fire on whole milliseconds, so allow one of rounding between the two clocks.
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(999);
  });

  it("reads a Retry-After HTTP-date against the server's own Date header", async () => {
    server = await startServer((_request, response, index) => {
      if (index === 0) {
        // A server clock an hour ahead of ours: only its own Date makes sense of its Retry-After.
        const serverNow = Math.floor(Date.now() / 1000) * 1000 + 3_600_000;
        response.writeHead(503, {
          date: new Date(serverNow).toUTCString(),
          'retry-after': new Date(serverNow + 1_000).toUTCString(),
        });
      } else {
        response.writeHead(200);
      }
      response.end();
    });
    client = createHttpClient(quick);
    expect((await client.request(`${server.origin}/data`)).status).toBe(200);
    const [first, second] = server.requests;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(999);
  });

  it('does not wait when Retry-After exceeds the cap, and hands the delay to the caller', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(503, { 'retry-after': '3600' });
      response.end('maintenance');
    });
    client = createHttpClient({ ...quick, maxRetryDelayMs: 2_000 });
    const failure = await failureOf(client.request(`${server.origin}/data`));
    expect(failure).toBeInstanceOf(HttpStatusError);
    expect((failure as HttpStatusError).retryAfterMs).toBe(3_600_000);
    expect((failure as HttpStatusError).status).toBe(503);
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after maxRetries with the last status and the start of its body', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end(`<html>\n  <body>Bad   gateway ${'x'.repeat(1_000)}</body></html>`);
    });
    client = createHttpClient({ ...quick, maxRetries: 2 });
    const failure = (await failureOf(client.request(`${server.origin}/data`))) as HttpStatusError;
    expect(failure).toBeInstanceOf(HttpStatusError);
    expect(failure.status).toBe(502);
    expect(failure.bodySnippet.startsWith('<html> <body>Bad gateway xxx')).toBe(true);
    expect(failure.bodySnippet.length).toBeLessThanOrEqual(301);
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry a 4xx other than 429, nor a 501', async () => {
    server = await startServer((request, response) => {
      response.writeHead(request.url === '/gone' ? 400 : 501);
      response.end();
    });
    client = createHttpClient(quick);
    expect(((await failureOf(client.request(`${server.origin}/gone`))) as HttpStatusError).status).toBe(400);
    expect(((await failureOf(client.request(`${server.origin}/nope`))) as HttpStatusError).status).toBe(501);
    expect(server.requests).toHaveLength(2);
  });

  it('retries when the server drops the connection before answering', async () => {
    server = await startServer((request, response, index) => {
      if (index === 0) {
        request.socket.destroy();
        return;
      }
      response.end('second time lucky');
    });
    client = createHttpClient(quick);
    expect(await (await client.request(`${server.origin}/data`)).text()).toBe('second time lucky');
    expect(server.requests).toHaveLength(2);
  });

  it('retries a headers timeout', async () => {
    server = await startServer((_request, response, index) => {
      if (index === 0) return; // never answers
      response.end('late but here');
    });
    client = createHttpClient({ ...quick, headersTimeoutMs: 200 });
    expect(await (await client.request(`${server.origin}/slow`)).text()).toBe('late but here');
    expect(server.requests).toHaveLength(2);
  });

  it('retries a refused connection, then reports it naming the URL and the code', async () => {
    server = await startServer((_request, response) => response.end());
    const origin = server.origin;
    await server.close();
    server = undefined;
    const { log, lines } = capturingLogger();
    client = createHttpClient({ ...quick, maxRetries: 2, log });
    const failure = (await failureOf(client.request(`${origin}/data`))) as HttpNetworkError;
    expect(failure).toBeInstanceOf(HttpNetworkError);
    expect(failure.code).toBe('ECONNREFUSED');
    expect(failure.message).toContain(`${origin}/data`);
    expect(lines.filter((line) => line.includes('retrying'))).toHaveLength(2);
  });

  it('does not retry a POST, whatever the failure', async () => {
    server = await startServer((request, response) => {
      if (request.url === '/drop') {
        request.socket.destroy();
        return;
      }
      response.writeHead(503);
      response.end();
    });
    client = createHttpClient(quick);
    const status = await failureOf(client.request(`${server.origin}/push`, { method: 'POST', body: '[]' }));
    expect((status as HttpStatusError).status).toBe(503);
    const network = await failureOf(client.request(`${server.origin}/drop`, { method: 'POST', body: '[]' }));
    expect(network).toBeInstanceOf(HttpNetworkError);
    expect(server.requests.map((request) => request.url)).toEqual(['/push', '/drop']);
  });

  it('retries a POST that opts in, sending the same body again', async () => {
    server = await startServer((_request, response, index) => {
      response.writeHead(index === 0 ? 503 : 200);
      response.end();
    });
    client = createHttpClient(quick);
    const body = JSON.stringify([{ id: 1, name: 'Zoë' }]);
    const response = await client.request(`${server.origin}/push`, { method: 'POST', body, retry: true });
    expect(response.status).toBe(200);
    expect(server.requests.map((request) => request.body)).toEqual([body, body]);
  });

  it('an abort ends a Retry-After wait at once', async () => {
    const controller = new AbortController();
    // Abort exactly while the client waits: the moment it logs that it will retry.
    const { log } = capturingLogger((line) => {
      if (line.includes('retrying')) controller.abort();
    });
    server = await startServer((_request, response) => {
      response.writeHead(503, { 'retry-after': '60' });
      response.end();
    });
    // A 60 s wait that is not cut short fails this test by its timeout.
    client = createHttpClient({ ...quick, maxRetryDelayMs: 120_000, log });
    const failure = await failureOf(client.request(`${server.origin}/data`, { signal: controller.signal }));
    expect(failure).toBeInstanceOf(HttpAbortError);
    expect((failure as Error).name).toBe('AbortError');
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry once the body is being streamed: a stalled body times out on the stream', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(200);
      response.write('STRUCTURE,ACTION\n');
    });
    client = createHttpClient({ ...quick, bodyTimeoutMs: 300 });
    const response = await client.request(`${server.origin}/stalled`);
    const failure = (await failureOf(response.text())) as HttpTimeoutError;
    expect(failure).toBeInstanceOf(HttpTimeoutError);
    expect(failure.phase).toBe('body');
    expect(failure.message).toContain(`${server.origin}/stalled`);
    expect(server.requests).toHaveLength(1);
  });
});
