import { afterEach, describe, expect, it } from 'vitest';
import { HttpNetworkError } from '../../src/http/errors.js';
import { embeddedIpv4, parseCidr } from '../../src/http/cidr.js';
import { NetworkPolicy } from '../../src/http/network-policy.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { testResolver } from '../helpers/test-resolver.js';
import { startServer, type LoopbackServer } from './loopback-server.js';

describe('NetworkPolicy: which addresses a host the config does not name may resolve to', () => {
  const policy = new NetworkPolicy({ trustedOrigins: [], allowedNetworks: [] });

  it.each([
    '127.0.0.1', '127.8.9.10', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '255.255.255.255', '224.0.0.1', '198.18.0.1', '::', '::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:10.0.0.1', '::127.0.0.1', '64:ff9b::a00:1', '2002:c0a8:101::1',
  ])('refuses %s', (address) => {
    expect(policy.permits(address)).toBe(false);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8', '2a00:1450::1'])(
    'permits the public address %s',
    (address) => {
      expect(policy.permits(address)).toBe(true);
    },
  );

  it('permits what client.allowedNetworks lists, IPv4-mapped addresses included', () => {
    const allowing = new NetworkPolicy({ trustedOrigins: [], allowedNetworks: ['10.1.0.0/16', 'fd00::/8', '127.0.0.1'] });
    expect(allowing.permits('10.1.2.3')).toBe(true);
    expect(allowing.permits('::ffff:10.1.2.3')).toBe(true);
    expect(allowing.permits('10.2.0.1')).toBe(false);
    expect(allowing.permits('fd12::1')).toBe(true);
    expect(allowing.permits('127.0.0.1')).toBe(true);
    expect(allowing.permits('127.0.0.2')).toBe(false);
  });

  it('reads CIDR blocks and the IPv4 address an IPv6 one carries', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ network: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('::1')).toEqual({ network: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example.org/8', '10.0.0/8', '']) expect(parseCidr(bad)).toBeUndefined();
    expect(embeddedIpv4('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(embeddedIpv4('64:ff9b::a9fe:a9fe')).toBe('169.254.169.254');
    expect(embeddedIpv4('2001:4860::8888')).toBeUndefined();
  });
});

describe('the HTTP client with a network policy, over loopback', () => {
  let server: LoopbackServer;
  let client: UndiciHttpClient | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await server?.close();
  });

  const serve = async () => {
    server = await startServer((_request, response) => {
      response.setHeader('content-type', 'text/plain');
      response.end('reached');
    });
    return server;
  };
  const port = () => new URL(server.origin).port;

  it('connects to an origin the config names, although it is on loopback', async () => {
    await serve();
    client = createHttpClient({ network: new NetworkPolicy({ trustedOrigins: [server.origin], allowedNetworks: [] }) });
    expect(await (await client.request(`${server.origin}/x`)).text()).toBe('reached');
  });

  it('refuses, before connecting, a loopback address the config does not name: another port, or a literal address', async () => {
    await serve();
    client = createHttpClient({
      network: new NetworkPolicy({ trustedOrigins: [`http://127.0.0.1:${Number(port()) + 1}`], allowedNetworks: [] }),
      maxRetries: 0,
    });
    const error = await client.request(`${server.origin}/x`).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(HttpNetworkError);
    expect((error as Error).message).toMatch(/refusing to connect to 127\.0\.0\.1: not a public address.*client\.allowedNetworks/);
    expect(server.connections()).toBe(0);
  });

  it('checks the address a name resolves to when connecting, so a name that resolves to loopback cannot reach it (DNS rebinding)', async () => {
    await serve();
    const resolved: string[] = [];
    client = createHttpClient({
      network: new NetworkPolicy({ trustedOrigins: [], allowedNetworks: [], lookup: testResolver({ 'rebound.test': ['127.0.0.1'] }, resolved) }),
      maxRetries: 0,
    });
    const error = await client.request(`http://rebound.test:${port()}/x`).catch((failure: unknown) => failure);
    expect((error as Error).message).toMatch(/refusing to connect to rebound\.test \(127\.0\.0\.1\)/);
    expect(resolved).toEqual(['rebound.test']);
    expect(server.connections()).toBe(0);
  });

  it('keeps only the permitted addresses of a name, and connects when client.allowedNetworks allows its network', async () => {
    await serve();
    const lookup = testResolver({ 'mixed.test': ['10.9.9.9', '127.0.0.1'], 'lan.test': ['127.0.0.1'] });
    client = createHttpClient({ network: new NetworkPolicy({ trustedOrigins: [], allowedNetworks: ['127.0.0.0/8'], lookup }), maxRetries: 0 });
    expect(await (await client.request(`http://lan.test:${port()}/x`)).text()).toBe('reached');
    // 10.9.9.9 is dropped (not allowed, not public): the connection goes to the allowed 127.0.0.1.
    expect(await (await client.request(`http://mixed.test:${port()}/x`)).text()).toBe('reached');
    expect(server.connections()).toBe(2);
  });
});
