import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  /** `http://127.0.0.1:43210` */
  readonly origin: string;
  /** The address as a URL writes it (IPv6 in brackets). */
  readonly host: string;
  readonly port: number;
}

/** Starts a simulator's server (port 0: any free one) and says where it listens; a failure to bind rejects. */
export async function listen(server: Server, port = 0, host = '127.0.0.1'): Promise<Listening> {
  // Idle keep-alive connections are closed by the client, as in front of real servers: with Node's
  // 5 s default a busy test process could reuse a socket the server was closing (ECONNRESET).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { origin: `http://${shown}:${address.port}`, host: shown, port: address.port };
}
