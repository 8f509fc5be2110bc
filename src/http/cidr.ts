import { isIP } from 'node:net';

/*
 * The address arithmetic of the network policy (network-policy.ts), apart from the connector it
 * builds: the config's schema checks client.allowedNetworks with it, and a command that only reads
 * the config (check-config, status) should not load the HTTP client's library to do so.
 */

/** `a.b.c.d/n` or `x:y::/n` (a bare address is a /32 or /128): the block, or undefined if malformed. */
export function parseCidr(text: string): { network: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const match = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text.trim());
  if (!match) return undefined;
  const network = match[1] as string;
  const version = isIP(network);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const prefix = match[2] === undefined ? (version === 4 ? 32 : 128) : Number(match[2]);
  if (prefix > (version === 4 ? 32 : 128)) return undefined;
  return { network, prefix, family };
}

/**
 * The IPv4 address an IPv6 one carries, where a connection to it reaches that IPv4 host:
 * IPv4-mapped (`::ffff:127.0.0.1`), IPv4-compatible (`::127.0.0.1`), NAT64 (`64:ff9b::/96`) and
 * 6to4 (`2002:AABB:CCDD::/48`).
 */
export function embeddedIpv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const words = expandIpv6(address);
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const zeros = (from: number, to: number) => words.slice(from, to).every((word) => word === 0);
  if (zeros(0, 5) && words[5] === 0xffff) return v4(words[6] as number, words[7] as number);
  if (zeros(0, 6) && ((words[6] as number) !== 0 || (words[7] as number) > 1)) return v4(words[6] as number, words[7] as number);
  if (words[0] === 0x64 && words[1] === 0xff9b && zeros(2, 6)) return v4(words[6] as number, words[7] as number);
  if (words[0] === 0x2002) return v4(words[1] as number, words[2] as number);
  return undefined;
}

/** The eight 16-bit words of an IPv6 address (with or without an embedded dotted quad). */
function expandIpv6(address: string): number[] {
  let text = address.toLowerCase().split('%')[0] as string;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parts = (part: string | undefined) => (part ? part.split(':').map((word) => parseInt(word, 16)) : []);
  const left = parts(head);
  const right = parts(tail);
  const fill = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...fill, ...right];
}
