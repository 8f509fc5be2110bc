import type { Logger } from 'pino';
import { configuredOrigins } from '../config/configured-origins.js';
import type { DaemonConfig } from '../config/schema.js';
import { parseDuration } from '../core/duration.js';
import { NetworkPolicy } from '../http/network-policy.js';
import { createHttpClient, type UndiciHttpClient } from '../http/undici-client.js';

/**
 * The HTTP client of a config: its timeouts and retries, and its network policy: the hosts the
 * jobs name are trusted, any other (a link or a redirect from a remote answer) may reach only
 * public addresses and `client.allowedNetworks` (docs/security.md).
 */
export function httpClientFor(config: Pick<DaemonConfig, 'client' | 'jobs'>, log: Logger, lookup?: NetworkPolicyLookup): UndiciHttpClient {
  const { client } = config;
  return createHttpClient({
    ...(client.userAgent ? { userAgent: client.userAgent } : {}),
    connectTimeoutMs: msOf(client.connectTimeout),
    headersTimeoutMs: msOf(client.headersTimeout),
    bodyTimeoutMs: msOf(client.bodyTimeout),
    maxRetries: client.retries,
    maxRetryDelayMs: msOf(client.maxRetryDelay),
    log,
    network: new NetworkPolicy({
      trustedOrigins: configuredOrigins(config),
      allowedNetworks: client.allowedNetworks,
      ...(lookup === undefined ? {} : { lookup }),
    }),
  });
}

type NetworkPolicyLookup = ConstructorParameters<typeof NetworkPolicy>[0]['lookup'];

function msOf(text: string): number {
  return parseDuration(text) as number;
}
