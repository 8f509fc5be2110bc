import type { Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { Agent, buildConnector } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { BODY_READ_AHEAD_BYTES } from '../../src/http/response-body.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { startServer, type LoopbackServer } from './loopback-server.js';

interface SocketReads {
  /** Every byte the HTTP/1 parser took from the socket, those it re-read after putting them back included. */
  readonly bytes: number;
  /** The most one read returned: a read returns all the socket holds, so this is its largest backlog. */
  readonly largest: number;
  /** The most bytes taken from the socket (net of those put back) and not yet handed to the consumer. */
  readonly mostAhead: number;
}

/**
 * An agent whose sockets count what the HTTP/1 parser takes from them. `handedOver` says how many
 * wire bytes the consumer has received so far.
 */
function countingAgent(handedOver: () => number): { agent: Agent; socketReads: () => SocketReads } {
  const connect = buildConnector({});
  let bytes = 0;
  let putBack = 0;
  let largest = 0;
  let mostAhead = 0;
  const agent = new Agent({
    connect: (options, callback) =>
      connect(options, (error, socket) => {
        if (socket !== null) {
          const read: Socket['read'] = socket.read.bind(socket);
          socket.read = (size?: number): unknown => {
            const chunk = read(size) as Buffer | null;
            if (chunk !== null) {
              bytes += chunk.length;
              largest = Math.max(largest, chunk.length);
              mostAhead = Math.max(mostAhead, bytes - putBack - handedOver());
            }
            return chunk;
          };
          const unshift: Socket['unshift'] = socket.unshift.bind(socket);
          socket.unshift = (chunk: Buffer): void => {
            putBack += chunk.length;
            unshift(chunk);
          };
        }
        // The callback has one overload for a failure and one for a socket: forward whichever came.
        if (error !== null) callback(error, null);
        else callback(null, socket);
      }),
  });
  return { agent, socketReads: () => ({ bytes, largest, mostAhead }) };
}

/** Text in the shape of SDMX-CSV rows, with values random enough that gzip leaves a sizeable body. */
function csvRows(bytes: number): Buffer {
  const rows: string[] = [];
  let length = 0;
  let seed = 2463534242;
  const random = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  for (let i = 0; length < bytes; i += 1) {
    const row = `DF,A.${i % 97}.${(i * 31) % 13},${2000 + (i % 24)}-${String((i % 12) + 1).padStart(2, '0')},${random() / 1000},${random().toString(36)}\n`;
    rows.push(row);
    length += row.length;
  }
  return Buffer.from(rows.join(''));
}

let server: LoopbackServer | undefined;
let client: UndiciHttpClient | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await client?.close();
  await agent?.close();
  await server?.close();
  client = undefined;
  agent = undefined;
  server = undefined;
});

describe('undici HTTP client: reading a body while the consumer is slower than the network', () => {
  const text = csvRows(8 * 1024 * 1024);
  const cases = [
    { name: 'plain', wire: text, headers: {} },
    { name: 'gzip', wire: gzipSync(text, { level: 1 }), headers: { 'content-encoding': 'gzip' } },
  ];

  for (const { name, wire, headers } of cases) {
    it(`reads each byte of a ${name} body from the socket about once, and reads at most a few megabytes ahead of the consumer`, async () => {
      // Small chunked writes, as a server streaming a large answer sends them.
      server = await startServer((_request, response) => {
        response.writeHead(200, headers);
        let offset = 0;
        const pump = (): void => {
          while (offset < wire.length) {
            const slice = wire.subarray(offset, offset + 1024);
            offset += slice.length;
            if (!response.write(slice)) {
              response.once('drain', pump);
              return;
            }
          }
          response.end();
        };
        pump();
      });
      let received = 0;
      const counting = countingAgent(() => (received * wire.length) / text.length);
      agent = counting.agent;
      client = createHttpClient({ dispatcher: agent, maxRetries: 0 });
      const response = await client.request(`${server.origin}/${name}`);
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        received += chunk.length;
        // The consumer gives the network a turn after every chunk, as a parser feeding a store does.
        await nextTurn();
      }

      expect(received).toBe(text.length);
      const { bytes, largest, mostAhead } = counting.socketReads();
      // Chunk framing adds a few bytes per KiB; re-reading a growing backlog would add megabytes.
      expect(bytes).toBeGreaterThanOrEqual(wire.length);
      expect(bytes).toBeLessThan(wire.length * 1.5);
      // Neither the socket's backlog nor what was read ahead of the consumer grows with the body:
      // undici's buffer, the chunk a decoder works on and a socket buffer, at most.
      expect(largest).toBeLessThan(BODY_READ_AHEAD_BYTES / 2);
      expect(mostAhead).toBeLessThan(2.5 * BODY_READ_AHEAD_BYTES);
    });
  }
});
