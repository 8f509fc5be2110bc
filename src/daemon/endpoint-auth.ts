import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer tokens for the endpoints that show what the daemon mirrors (`/`, `/status`, `/metrics`);
 * `/healthz` and `/readyz` stay open for probes. With no token configured everything is open.
 *
 * A token is accepted as `Authorization: Bearer <token>` (Prometheus, curl, scripts) or as the
 * password of `Authorization: Basic` with any user name, so that a browser asked with a 401 can
 * open the status page through its own login prompt.
 *
 * Compared in constant time: both sides are hashed first, so neither the position of the first
 * differing byte nor a token's length shows in the time taken, and every token is compared.
 */
export class EndpointAuth {
  private readonly digests: readonly Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }

  get required(): boolean {
    return this.digests.length > 0;
  }

  /** True when no token is configured, or the header carries one of them. */
  allows(authorization: string | undefined): boolean {
    if (!this.required) return true;
    const offered = presentedToken(authorization);
    if (offered === undefined) return false;
    const candidate = digest(offered);
    let match = false;
    for (const known of this.digests) match = timingSafeEqual(candidate, known) || match;
    return match;
  }
}

/** The WWW-Authenticate challenges of a 401: Basic first, the one a browser answers with a prompt. */
export const AUTH_CHALLENGES = ['Basic realm="dataspace-sync", charset="UTF-8"', 'Bearer realm="dataspace-sync"'];

function presentedToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^(\S+)\s+(.+)$/.exec(header.trim());
  if (!match) return undefined;
  const scheme = (match[1] as string).toLowerCase();
  const value = (match[2] as string).trim();
  if (scheme === 'bearer') return value;
  if (scheme !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
