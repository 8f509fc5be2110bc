import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listen } from '../../src/simulators/listen.js';

/**
 * A loopback proxy in front of a simulator that can hold one answer back until the test lets it
 * go: the request is forwarded at once (the answer is the source as it was then), but its client
 * receives nothing until `release`. So a test can keep a run waiting on the network, outside any
 * store transaction, for exactly as long as it needs (while the database restarts and another
 * daemon takes the stream), then have it carry on with what is by then a stale answer.
 */
export interface AnswerHold {
  /** `http://127.0.0.1:<port>` followed by the upstream's path: what a source is configured with. */
  readonly url: string;
  /** Holds the next answer to a request whose path and query match. */
  holdNext(match: RegExp): void;
  /** Resolves once the held answer has arrived from upstream whole (its client is waiting for it). */
  held(): Promise<void>;
  /** Sends the held answer to its client. */
  release(): void;
  close(): Promise<void>;
}

export async function startAnswerHold(upstream: string): Promise<AnswerHold> {
  const target = new URL(upstream);
  let armed: RegExp | undefined;
  let arrived: (() => void) | undefined;
  const arrival = new Promise<void>((resolve) => (arrived = resolve));
  let released: (() => void) | undefined;
  const release = new Promise<void>((resolve) => (released = resolve));
  const sockets = new Set<Socket>();

  const answer = async (upstreamAnswer: IncomingMessage, res: ServerResponse, hold: boolean): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of upstreamAnswer) chunks.push(chunk as Buffer);
    if (hold) {
      arrived?.();
      await release;
    }
    const headers = { ...upstreamAnswer.headers };
    delete headers['transfer-encoding'];
    delete headers['connection'];
    const body = Buffer.concat(chunks);
    res.writeHead(upstreamAnswer.statusCode ?? 502, { ...headers, 'content-length': String(body.length) });
    res.end(body);
  };

  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const hold = armed?.test(path) === true;
    if (hold) armed = undefined;
    const outgoing = request({ host: target.hostname, port: target.port, method: req.method, path, headers: { ...req.headers, host: target.host } }, (upstreamAnswer) => {
      answer(upstreamAnswer, res, hold).catch(() => res.destroy());
    });
    outgoing.on('error', () => res.destroy());
    req.pipe(outgoing);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const { origin } = await listen(server);
  return {
    url: `${origin}${target.pathname.replace(/\/$/, '')}`,
    holdNext: (match) => {
      armed = match;
    },
    held: () => arrival,
    release: () => released?.(),
    close: async () => {
      released?.();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
