import { redactSecretParameters, secretRedactor } from '../http/redact.js';
import { escapeHtml } from './html.js';

/**
 * Replaces known secret values (and secret-looking query parameters) in any text with ***.
 * Used for every log line and for /status, because a secret substituted into a URL can end up in
 * a cursor or an error message where no key names it.
 */
export type Scrubber = (text: string) => string;

/** Shorter values would mangle ordinary text (every "10" in a message); they are left alone. */
const MIN_SECRET_LENGTH = 4;

export function createScrubber(secrets: readonly string[]): Scrubber {
  // The status page writes each value HTML-escaped: a secret with `&` or `'` is found as written there too.
  const scrubbed = secrets.filter((secret) => secret.length >= MIN_SECRET_LENGTH);
  const redact = secretRedactor(scrubbed.flatMap((secret) => [secret, escapeHtml(secret)]));
  return (text) => redactSecretParameters(redact(text));
}
