import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { LimitExceededError } from '../../src/core/limits.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { startServer, type LoopbackServer } from './loopback-server.js';

let server: LoopbackServer | undefined;
let client: UndiciHttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

/** Reads a body to its end or failure: the bytes it gave, and the error it ended with. */
async function drain(body: AsyncIterable<Buffer>): Promise<{ bytes: number; error: unknown }> {
  let bytes = 0;
  try {
    for await (const chunk of body) bytes += chunk.length;
  } catch (error) {
    return { bytes, error };
  }
  return { bytes, error: undefined };
}

const MiB = 1024 * 1024;

describe('undici HTTP client: response limits', () => {
  it('refuses a response whose Content-Length exceeds limits.responseBytes before reading it', async () => {
    server = await startServer((_request, response) => response.writeHead(200, { 'content-length': String(3 * MiB) }).end(Buffer.alloc(3 * MiB, 97)));
    client = createHttpClient({ maxRetries: 0 });
    const failure = await client.request(`${server.origin}/big`, { limits: { responseBytes: MiB } }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LimitExceededError);
    expect((failure as Error).message).toBe(
      `the answer of ${server.origin}/big (Content-Length 3145728) exceeds limits.responseBytes (1 MiB); nothing of it is applied. If the remote is right, raise "limits": {"responseBytes": ...} in the job or in defaults.limits`,
    );
  });

  it('stops a chunked body without a length once it passes limits.responseBytes', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(200);
      const piece = Buffer.alloc(64 * 1024, 98);
      let sent = 0;
      const more = (): void => {
        while (sent < 64 * MiB) {
          sent += piece.length;
          if (!response.write(piece)) return void response.once('drain', more);
        }
        response.end();
      };
      response.on('error', () => undefined);
      more();
    });
    client = createHttpClient({ maxRetries: 0 });
    const response = await client.request(`${server.origin}/endless`, { limits: { responseBytes: 2 * MiB } });
    const { bytes, error } = await drain(response.body);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as LimitExceededError).key).toBe('responseBytes');
    expect(bytes).toBeLessThanOrEqual(2 * MiB);
  });

  it('stops a gzip bomb at limits.decodedBytes, having decompressed little more', async () => {
    const bomb = gzipSync(Buffer.alloc(256 * MiB));
    expect(bomb.length).toBeLessThan(MiB);
    server = await startServer((_request, response) => response.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(bomb.length) }).end(bomb));
    client = createHttpClient({ maxRetries: 0 });
    const response = await client.request(`${server.origin}/bomb`, { limits: { responseBytes: MiB * 4, decodedBytes: 8 * MiB } });
    const { bytes, error } = await drain(response.body);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as Error).message).toMatch(/^the answer of http:\/\/127\.0\.0\.1:\d+\/bomb \(decompressed\) exceeds limits\.decodedBytes \(8 MiB\)/);
    expect(bytes).toBeLessThanOrEqual(8 * MiB);
  });

  it('refuses text() and json() past limits.documentBytes', async () => {
    server = await startServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(`[${'1,'.repeat(MiB)}1]`));
    client = createHttpClient({ maxRetries: 0 });
    const failure = await (await client.request(`${server.origin}/doc`, { limits: { documentBytes: MiB } })).json().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LimitExceededError);
    expect((failure as LimitExceededError).key).toBe('documentBytes');
    expect(await (await client.request(`${server.origin}/doc`, { limits: { documentBytes: 4 * MiB } })).json()).toHaveLength(MiB + 1);
  });
});
