import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { listen } from '../listen.js';
import { ProxyFaultQueue, type BodyFraming, type ProxyFault, type ProxyFaultOptions } from './proxy-faults.js';

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: what a source is configured with instead of the simulator's origin. */
  readonly origin: string;
  readonly faults: ProxyFaultQueue;
  /** Spoil the next matching answer(s). */
  inject(fault: ProxyFault, options?: ProxyFaultOptions): void;
  /** Where requests go from now on: a loopback origin (`http://127.0.0.1:41234`). */
  forwardTo(upstream: string): void;
  /** A URL of the upstream, as reached through the proxy. */
  via(url: string): string;
  /** Answers being sent right now (a client killed at this moment is killed in the middle of a transfer). */
  readonly inFlight: number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const HTML_PAGE = '<!DOCTYPE html><html><head><title>Service unavailable</title></head><body><h1>Please log in</h1></body></html>';
/** One gzip member of a bomb: 4 MiB of filler that compresses to a few kilobytes; members are repeated (gzip allows concatenation). */
const BOMB_MEMBER_BYTES = 4 * 1024 * 1024;

/**
 * A reverse proxy on loopback that forwards every request to one simulator and, on demand, spoils
 * answers the way networks, load balancers and broken servers do (proxy-faults.ts): so every kind
 * of source meets the same faults, whatever its simulator can do by itself. Only loopback
 * upstreams are accepted: it is a test instrument, never a way out.
 */
export async function startFaultProxy(options: { readonly upstream?: string } = {}): Promise<FaultProxy> {
  const faults = new ProxyFaultQueue();
  const agent = new Agent({ keepAlive: true });
  let upstream: URL | undefined;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const bombMembers = new Map<string, Buffer>();

  const forwardTo = (origin: string): void => {
    const url = new URL(origin);
    if (url.protocol !== 'http:' || !LOOPBACK.has(url.hostname)) throw new Error(`the fault proxy forwards to loopback http origins only, not ${origin}`);
    upstream = url;
  };
  if (options.upstream !== undefined) forwardTo(options.upstream);

  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  let inFlight = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    inFlight += 1;
    res.once('close', () => (inFlight -= 1));
    const target = req.url ?? '/';
    const fault = faults.take(target);
    switch (fault?.type) {
      case 'reset':
        if (fault.afterBytes === undefined) {
          req.socket.resetAndDestroy();
          return;
        }
        break;
      case 'status': {
        const body = `HTTP ${fault.status} from the fault proxy`;
        res.writeHead(fault.status, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': String(Buffer.byteLength(body)),
          ...(fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter }),
        });
        res.end(body);
        return;
      }
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(HTML_PAGE)) });
        res.end(HTML_PAGE);
        return;
      case 'replace': {
        const body = Buffer.from(fault.body);
        res.writeHead(fault.status ?? 200, { 'content-type': fault.contentType, 'content-length': String(body.length), date: new Date().toUTCString() });
        res.end(body);
        return;
      }
      case 'gzipBomb':
        await sendBomb(res, fault.decodedBytes, fault.contentType, fault.fill ?? '0');
        return;
      case 'slowFirstByte':
        await wait(fault.ms);
        if (req.socket.destroyed) return;
        break;
      default:
        break;
    }
    forward(req, res, target, fault);
  };

  function forward(req: IncomingMessage, res: ServerResponse, target: string, fault: ProxyFault | undefined): void {
    if (upstream === undefined) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('the fault proxy has no upstream yet');
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    headers['host'] = upstream.host;
    if (fault?.type === 'cut' && fault.plain === true) delete headers['accept-encoding'];
    const outgoing = httpRequest({ agent, host: upstream.hostname.replace(/^\[|\]$/g, ''), port: upstream.port, method: req.method, path: target, headers }, (answer) => {
      if (fault?.type === 'cut' || fault?.type === 'stall' || fault?.type === 'reset') void spoilBody(req.socket, answer, fault);
      else pass(res, answer);
    });
    outgoing.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('the fault proxy could not reach its upstream');
      } else res.destroy();
    });
    // The client left (killed while it sent a body, or while it read the answer): stop the upstream exchange too.
    req.on('error', () => outgoing.destroy());
    res.on('close', () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    req.pipe(outgoing);
  }

  function pass(res: ServerResponse, answer: IncomingMessage): void {
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers, true));
    answer.pipe(res);
  }

  /**
   * Writes the answer straight on the socket, so the framing and the point of failure are exactly
   * as chosen (Node's own response writer would complete a chunked body or refuse a short one).
   * The connection is never reused afterwards.
   */
  async function spoilBody(socket: Socket, answer: IncomingMessage, fault: Extract<ProxyFault, { type: 'cut' | 'stall' | 'reset' }>): Promise<void> {
    const declared = answer.headers['content-length'];
    let framing: BodyFraming = fault.type === 'cut' ? fault.framing : declared === undefined ? 'chunked' : 'content-length';
    let buffered: Buffer | undefined;
    let length = declared === undefined ? undefined : Number(declared);
    if (framing === 'content-length' && length === undefined) {
      // Its full length is only known once it has all arrived.
      const chunks: Buffer[] = [];
      for await (const chunk of answer) chunks.push(chunk as Buffer);
      buffered = Buffer.concat(chunks);
      length = buffered.length;
    }
    if (answer.statusCode === 204 || answer.statusCode === 304) framing = 'close';
    const head = [`HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}`];
    for (const [name, value] of Object.entries(endToEnd(answer.headers, false))) for (const one of [value].flat()) head.push(`${name}: ${one}`);
    if (framing === 'content-length') head.push(`content-length: ${length ?? 0}`);
    if (framing === 'chunked') head.push('transfer-encoding: chunked');
    head.push('connection: close', '', '');
    if (socket.destroyed) return;
    socket.write(head.join('\r\n'));
    let sent = 0;
    const send = (data: Buffer): void => {
      if (data.length === 0) return;
      socket.write(framing === 'chunked' ? Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]) : data);
      sent += data.length;
    };
    const source: AsyncIterable<Buffer> | Iterable<Buffer> = buffered === undefined ? (answer as AsyncIterable<Buffer>) : [buffered];
    const strikeAt = fault.afterBytes ?? 0;
    let struck = false;
    for await (const chunk of source) {
      if (socket.destroyed) break;
      let rest = chunk;
      if (!struck && sent + rest.length >= strikeAt) {
        const split = strikeAt - sent;
        send(rest.subarray(0, split));
        rest = rest.subarray(split);
        struck = true;
        if (fault.type === 'cut') {
          socket.end();
          answer.destroy();
          return;
        }
        if (fault.type === 'reset') {
          // Give the bytes already written a moment to leave before the reset discards the queue.
          await new Promise<void>((resolve) => socket.write('', () => resolve()));
          socket.resetAndDestroy();
          answer.destroy();
          return;
        }
        if (fault.ms === undefined) {
          // Stalled for good: the client's body timeout is what ends it.
          answer.destroy();
          return;
        }
        await wait(fault.ms);
      }
      send(rest);
    }
    if (socket.destroyed) return;
    if (framing === 'chunked') socket.write('0\r\n\r\n');
    socket.end();
  }

  async function sendBomb(res: ServerResponse, decodedBytes: number, contentType: string, fill: string): Promise<void> {
    let member = bombMembers.get(fill);
    if (member === undefined) {
      member = gzipSync(Buffer.alloc(BOMB_MEMBER_BYTES, fill), { level: 9 });
      bombMembers.set(fill, member);
    }
    const members = Math.max(1, Math.ceil(decodedBytes / BOMB_MEMBER_BYTES));
    res.writeHead(200, { 'content-type': contentType, 'content-encoding': 'gzip', 'content-length': String(members * member.length) });
    for (let i = 0; i < members; i += 1) {
      if (res.destroyed) return;
      if (!res.write(member)) await drainedOrClosed(res);
    }
    res.end();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  const { origin } = await listen(server);

  return {
    origin,
    faults,
    inject: (fault, faultOptions) => faults.add(fault, faultOptions),
    forwardTo,
    get inFlight() {
      return inFlight;
    },
    via: (url) => {
      if (upstream === undefined) throw new Error('the fault proxy has no upstream yet');
      const parsed = new URL(url);
      if (parsed.origin !== upstream.origin) throw new Error(`${url} is not on the proxied origin ${upstream.origin}`);
      return `${origin}${parsed.pathname}${parsed.search}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The headers that describe the answer itself; the length too when the body is passed on unchanged. */
function endToEnd(headers: IncomingHttpHeaders, keepLength: boolean): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || (!keepLength && name === 'content-length')) continue;
    kept[name] = value;
  }
  return kept;
}

export type { ProxyFault, ProxyFaultOptions };

/** Waits for room in the socket's buffer, or for the client to go; leaves no listener behind. */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
