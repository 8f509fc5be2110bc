import type { DaemonConfig } from './schema.js';

/**
 * The origins of every http(s) URL the operator wrote in the jobs (endpoints, portals, feeds,
 * dataset sites, catalogs, allowed origins): the hosts the daemon trusts to be where the operator
 * meant, loopback or private included. Read from the values rather than from each kind's field
 * names, so a new kind's URLs are trusted without a list to keep in step.
 */
export function configuredOrigins(config: Pick<DaemonConfig, 'jobs'>): string[] {
  const origins = new Set<string>();
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      const origin = originOf(value);
      if (origin !== undefined) origins.add(origin);
    } else if (Array.isArray(value)) {
      value.forEach(visit);
    } else if (typeof value === 'object' && value !== null) {
      Object.values(value).forEach(visit);
    }
  };
  visit(config.jobs);
  return [...origins];
}

function originOf(text: string): string | undefined {
  if (!/^https?:\/\//i.test(text.trim())) return undefined;
  try {
    return new URL(text.trim()).origin;
  } catch {
    return undefined;
  }
}
