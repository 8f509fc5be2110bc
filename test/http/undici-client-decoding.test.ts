import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants, createGzip, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpBodyError } from '../../src/http/errors.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { startServer, type LoopbackServer } from './loopback-server.js';

const fast = { maxRetries: 0, retryBaseDelayMs: 1, maxRetryDelayMs: 100 };

/** Text with enough variety that compression leaves a body of several chunks. */
function sampleText(lines: number): string {
  return Array.from({ length: lines }, (_, i) => `STRUCTURE,DF_${i % 7},R,${i},${(i * 7919) % 10007}`).join('\n');
}

let server: LoopbackServer | undefined;
let client: UndiciHttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

describe('undici HTTP client: content decoding', () => {
  const text = sampleText(20_000);
  const encoders: Record<string, (input: Buffer) => Buffer> = {
    gzip: (input) => gzipSync(input),
    deflate: (input) => deflateSync(input),
    br: (input) => brotliCompressSync(input, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }),
  };

  for (const [encoding, encode] of Object.entries(encoders)) {
    it(`decodes a ${encoding} body`, async () => {
      const encoded = encode(Buffer.from(text));
      server = await startServer((_request, response) => {
        response.writeHead(200, { 'content-encoding': encoding, 'content-length': encoded.length });
        response.end(encoded);
      });
      client = createHttpClient(fast);
      const response = await client.request(`${server.origin}/data`);
      expect(await response.text()).toBe(text);
    });
  }

  it('asks for gzip, deflate and br, and names itself with the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    server = await startServer((_request, response) => response.end('ok'));
    client = createHttpClient(fast);
    await (await client.request(`${server.origin}/`)).dump();
    expect(server.requests[0]?.headers['accept-encoding']).toBe('gzip, deflate, br');
    expect(server.requests[0]?.headers['user-agent']).toBe(`dataspace-sync/${version} (+https://github.com/dataspace-sync)`);
  });

  it("keeps the caller's own Accept-Encoding and User-Agent, whatever their case", async () => {
    server = await startServer((_request, response) => response.end('ok'));
    client = createHttpClient(fast);
    await (await client.request(`${server.origin}/`, { headers: { 'Accept-Encoding': 'gzip', 'User-Agent': 'probe/1' } })).dump();
    expect(server.requests[0]?.headers['accept-encoding']).toBe('gzip');
    expect(server.requests[0]?.headers['user-agent']).toBe('probe/1');
  });

  it('hands over the first decoded bytes before the server has finished sending', async () => {
    let firstChunkSeen!: () => void;
    const seen = new Promise<void>((resolve) => (firstChunkSeen = resolve));
    server = await startServer((_request, response) => {
      response.writeHead(200, { 'content-encoding': 'gzip' });
      const gzip = createGzip();
      gzip.pipe(response);
      gzip.write('first part\n');
      gzip.flush(constants.Z_SYNC_FLUSH);
      // The rest is only sent once the client has read the first part: a client that buffered
      // the whole body would wait here forever.
      void seen.then(() => gzip.end('second part\n'));
    });
    client = createHttpClient(fast);
    const response = await client.request(`${server.origin}/stream`);
    const received: string[] = [];
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      received.push(chunk.toString('utf8'));
      firstChunkSeen();
    }
    expect(received.join('')).toBe('first part\nsecond part\n');
    expect(received[0]).toBe('first part\n');
  });

  it('does not try to decode the empty body of a HEAD or a 204 that carries content-encoding', async () => {
    server = await startServer((request, response) => {
      response.writeHead(request.url === '/none' ? 204 : 200, { 'content-encoding': 'gzip' });
      response.end();
    });
    client = createHttpClient(fast);
    expect(await (await client.request(`${server.origin}/head`, { method: 'HEAD' })).text()).toBe('');
    expect(await (await client.request(`${server.origin}/none`)).text()).toBe('');
  });

  it('refuses a content-encoding it cannot decode, naming it', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(200, { 'content-encoding': 'zstd' });
      response.end('whatever');
    });
    client = createHttpClient(fast);
    await expect(client.request(`${server.origin}/z`)).rejects.toThrow(/unsupported content-encoding "zstd"/);
  });

  it('a body nobody reads can break without an unhandled error', async () => {
    server = await startServer((request, response) => {
      response.writeHead(200, { 'content-encoding': 'gzip' });
      response.write(gzipSync(Buffer.from(sampleText(1_000))).subarray(0, 100));
      setTimeout(() => request.socket.destroy(), 20);
    });
    client = createHttpClient(fast);
    const response = await client.request(`${server.origin}/unread`);
    // Only 'close' is awaited: no 'error' listener is added, as with a caller that never reads.
    await new Promise((resolve) => response.body.once('close', resolve));
    expect(response.body.errored).toBeInstanceOf(HttpBodyError);
  });

  it('lets a consumer stop early without breaking the client', async () => {
    server = await startServer((_request, response) => {
      response.writeHead(200);
      response.write('a'.repeat(64 * 1024));
      response.write('b'.repeat(64 * 1024));
      setTimeout(() => response.end('c'), 50);
    });
    client = createHttpClient(fast);
    const response = await client.request(`${server.origin}/long`);
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    const again = await client.request(`${server.origin}/long`);
    expect((await again.text()).endsWith('c')).toBe(true);
  });
});

describe('undici HTTP client: truncated bodies', () => {
  it('a chunked body cut mid-stream errors on the body stream, naming the URL', async () => {
    server = await startServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/csv' });
      response.write('STRUCTURE,STRUCTURE_ID,ACTION\n');
      setTimeout(() => request.socket.destroy(), 20);
    });
    client = createHttpClient(fast);
    const response = await client.request(`${server.origin}/chunked`);
    const failure = await response.text().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(HttpBodyError);
    expect((failure as Error).message).toContain(`${server.origin}/chunked`);
  });

  it('a body shorter than its content-length errors on the body stream', async () => {
    server = await startServer((request, response) => {
      response.writeHead(200, { 'content-length': 1000 });
      response.write('only a little');
      setTimeout(() => request.socket.destroy(), 20);
    });
    client = createHttpClient(fast);
    const response = await client.request(`${server.origin}/short`);
    await expect(response.text()).rejects.toBeInstanceOf(HttpBodyError);
  });

  it('a gzip stream that ends early errors even though the HTTP framing ended cleanly', async () => {
    const encoded = gzipSync(Buffer.from(sampleText(5_000)));
    server = await startServer((_request, response) => {
      response.writeHead(200, { 'content-encoding': 'gzip' });
      response.end(encoded.subarray(0, Math.floor(encoded.length / 2)));
    });
    client = createHttpClient(fast);
    const response = await client.request(`${server.origin}/half.gz`);
    await expect(response.text()).rejects.toThrow(/gzip decoding failed: unexpected end of file/);
  });

  it('a gzip body cut with the connection errors on the body stream', async () => {
    const encoded = gzipSync(Buffer.from(sampleText(5_000)));
    server = await startServer((request, response) => {
      response.writeHead(200, { 'content-encoding': 'gzip' });
      response.write(encoded.subarray(0, Math.floor(encoded.length / 2)));
      setTimeout(() => request.socket.destroy(), 20);
    });
    client = createHttpClient(fast);
    const response = await client.request(`${server.origin}/cut.gz`);
    await expect(response.text()).rejects.toBeInstanceOf(HttpBodyError);
  });
});
