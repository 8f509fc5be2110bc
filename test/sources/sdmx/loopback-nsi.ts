import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  /** The request target exactly as it arrived (percent-encoding intact). */
  readonly rawUrl: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
}

export type Handler = (request: RecordedRequest, res: ServerResponse) => void;

/**
 * A loopback HTTP server whose answers each test scripts per path: enough NSI to drive the source
 * over real HTTP (headers, status codes, cut bodies) without the simulator.
 */
export async function startLoopbackNsi(): Promise<{
  readonly url: string;
  readonly requests: RecordedRequest[];
  route(path: string, handler: Handler): void;
  close(): Promise<void>;
}> {
  const routes = new Map<string, Handler>();
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const rawUrl = req.url ?? '/';
    const parsed = new URL(rawUrl, 'http://localhost');
    const path = decodeURIComponent(parsed.pathname.replace(/^\/rest/, ''));
    const request: RecordedRequest = { rawUrl, path, query: parsed.searchParams, headers: req.headers };
    requests.push(request);
    const handler = routes.get(path);
    if (handler === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no route for ${path}`);
      return;
    }
    handler(request, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/rest`,
    requests,
    route: (path, handler) => routes.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
