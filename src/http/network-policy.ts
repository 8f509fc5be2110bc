import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { buildConnector } from 'undici';
import { embeddedIpv4, parseCidr } from './cidr.js';

/**
 * Where the daemon may connect (server-side request forgery): a remote answer names URLs (an RPDE
 * `next`, feeds listed by a data catalog, a redirect's Location), and a hostile remote could point
 * them at the daemon's own network: a cloud metadata service (169.254.169.254), a database on
 * loopback, an admin page on a private address.
 *
 * The hosts of the URLs the operator wrote in the config are trusted, whatever they resolve to (the
 * simulators, a portal on the LAN). Any other host is resolved, and refused if an address it
 * resolves to is loopback, private, link-local or otherwise not public, unless that address is in
 * `client.allowedNetworks`. The check is made on the address the socket connects to, at connect
 * time, so a name that resolves to a public address when checked and a private one when used
 * (DNS rebinding) gains nothing.
 */
export interface NetworkPolicyOptions {
  /** Origins (`http://host:port`) the operator configured: connected to whatever they resolve to. */
  readonly trustedOrigins: readonly string[];
  /** CIDR blocks (`10.1.0.0/16`, `fd00::/8`, `127.0.0.1/32`) allowed although they are not public. */
  readonly allowedNetworks: readonly string[];
  /** Injected by tests to resolve names of their own; the system resolver otherwise. */
  readonly lookup?: typeof dnsLookup;
}

/** Address ranges that are not the public internet (IANA special-purpose registries). */
const NOT_PUBLIC: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'], // "this network"; 0.0.0.0 reaches the local host
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local: cloud metadata services
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.88.99.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, and the broadcast address
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['100::', 64, 'ipv6'], // discard
  ['2001:db8::', 32, 'ipv6'], // documentation
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated)
  ['ff00::', 8, 'ipv6'], // multicast
];

const notPublic = new BlockList();
for (const [network, prefix, family] of NOT_PUBLIC) notPublic.addSubnet(network, prefix, family);

/** A connection the policy refused, before anything was sent. */
export class AddressNotAllowedError extends Error {
  readonly code = 'ERR_ADDRESS_NOT_ALLOWED';

  constructor(host: string, address: string) {
    super(
      `refusing to connect to ${host}${host === address ? '' : ` (${address})`}: not a public address, and the host is not one the ` +
        'config names (a link from a remote answer or a redirect); add its network to client.allowedNetworks to allow it',
    );
    this.name = 'AddressNotAllowedError';
  }
}

export class NetworkPolicy {
  private readonly trusted: ReadonlySet<string>;
  private readonly allowed = new BlockList();
  private readonly resolve: typeof dnsLookup;
  private readonly customLookup: typeof dnsLookup | undefined;

  constructor(options: NetworkPolicyOptions) {
    this.trusted = new Set(options.trustedOrigins.flatMap((origin) => originKey(origin) ?? []));
    for (const text of options.allowedNetworks) {
      const block = parseCidr(text);
      if (!block) throw new TypeError(`not a CIDR block: ${text}`);
      this.allowed.addSubnet(block.network, block.prefix, block.family);
    }
    this.resolve = options.lookup ?? dnsLookup;
    this.customLookup = options.lookup;
  }

  /** Whether the operator configured this origin. */
  trusts(protocol: string, hostname: string, port: string | number): boolean {
    return this.trusted.has(keyOf(protocol, hostname, port));
  }

  /** Whether a connection to `address` (of a host the config does not name) may be made. */
  permits(address: string): boolean {
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (this.allowed.check(address, family)) return true;
    const carried = embeddedIpv4(address);
    if (carried !== undefined) return this.allowed.check(carried, 'ipv4') || !notPublic.check(carried, 'ipv4');
    return !notPublic.check(address, family);
  }

  /**
   * An undici connector that applies the policy: a trusted origin connects as usual; any other
   * host's literal address is checked, and a name is resolved by a lookup that checks every
   * address it returns, the one the socket then connects to.
   */
  connector(options: buildConnector.BuildOptions): buildConnector.connector {
    // A trusted origin resolves as usual (through the injected resolver when a test gave one).
    const plain = buildConnector(this.customLookup ? ({ ...options, lookup: this.customLookup }) : options);
    const checked = buildConnector({ ...options, lookup: this.checkingLookup() });
    return (connect, callback) => {
      const { protocol, hostname, port } = connect;
      if (this.trusts(protocol, hostname, port)) return plain(connect, callback);
      if (isIP(hostname) !== 0 && !this.permits(hostname)) {
        queueMicrotask(() => callback(new AddressNotAllowedError(hostname, hostname), null));
        return;
      }
      return checked(connect, callback);
    };
  }

  /** A dns.lookup that keeps only the permitted addresses, and fails when none is left. */
  private checkingLookup(): LookupFunction {
    return (hostname, options, callback) => {
      this.resolve(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
        if (error) return callback(error, '', 0);
        const permitted = addresses.filter((entry) => this.permits(entry.address));
        if (permitted.length === 0) {
          return callback(new AddressNotAllowedError(hostname, addresses.map((entry) => entry.address).join(', ')), '', 0);
        }
        if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, permitted);
        const first = permitted[0] as LookupAddress;
        callback(null, first.address, first.family);
      });
    };
  }
}

/** The dispatcher's view of an origin: `http:` + host + port, with the scheme's default port filled in. */
function keyOf(protocol: string, hostname: string, port: string | number): string {
  const scheme = protocol.replace(/:$/, '').toLowerCase();
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const given = String(port);
  return `${scheme}|${host}|${given === '' ? (scheme === 'https' ? '443' : '80') : given}`;
}

function originKey(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    return keyOf(url.protocol, url.hostname, url.port);
  } catch {
    return undefined;
  }
}

