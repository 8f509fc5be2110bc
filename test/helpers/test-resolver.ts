import { lookup as systemLookup, type LookupAddress } from 'node:dns';

/** A resolver with names of the test's own (each to its addresses), the system's for the rest. */
export function testResolver(names: Readonly<Record<string, readonly string[]>>, resolved: string[] = []): typeof systemLookup {
  return ((hostname: string, options: unknown, callback: (error: Error | null, addresses: LookupAddress[]) => void) => {
    const addresses = names[hostname];
    if (addresses === undefined) return (systemLookup as unknown as (...args: unknown[]) => void)(hostname, options, callback);
    resolved.push(hostname);
    callback(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  }) as unknown as typeof systemLookup;
}
