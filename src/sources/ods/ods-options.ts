import { z } from 'zod';
import { isValidIdentifier } from '../../core/identifiers.js';

/** The options every ODS job has: which portal, and with which key. */
export const portalOptions = {
  portal: z
    .url({ protocol: /^https?$/, message: 'expected the portal\'s public http(s) URL, e.g. "https://data.example.org"' })
    .refine((text) => new URL(text).search === '' && new URL(text).hash === '', { message: 'expected a URL without query or fragment' })
    .describe('The portal\'s public URL, e.g. "https://data.example.org" (the Explore API v2.1 is below it).'),
  apiKey: z.string().min(1).optional().describe('An API key, sent as "Authorization: Apikey ..." (write it as ${ENV_VAR}); never logged.'),
};

/** A table prefix that leaves room for the longest suffix the kind adds. */
export function prefixOption(longestSuffix: string) {
  return z
    .string()
    .refine((prefix) => isValidIdentifier(`${prefix}${longestSuffix}`), {
      message: `expected a table prefix: a letter, then letters, digits or _ (at most ${63 - longestSuffix.length} characters)`,
    });
}

/** The portal URL as the sources use it: no trailing slash. */
export function portalBase(portal: string): string {
  return portal.replace(/\/+$/, '');
}

/**
 * The default table prefix of a job: its id, with `-` as `_`, starting with a letter, short enough
 * for `suffix` to fit in an identifier.
 */
export function defaultPrefix(jobId: string, suffix: string): string {
  let prefix = jobId.replace(/[^A-Za-z0-9_]+/g, '_');
  if (!/^[A-Za-z]/.test(prefix)) prefix = `ods_${prefix}`;
  return prefix.slice(0, 63 - suffix.length).replace(/_+$/, '') || 'ods';
}
