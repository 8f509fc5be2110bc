import { secretForms } from './secret-forms.js';

/**
 * Secrets travel in URLs (ODS `apikey`, Push API `pushkey`, userinfo passwords) and in headers.
 * Everything the HTTP client puts in an error or a log line goes through here first, because an
 * error message ends up in `sync_state.last_error`, in `/status` and in log aggregators.
 */

/** Query parameters whose values are secrets, compared case-insensitively. */
export const SECRET_QUERY_PARAMETERS: readonly string[] = [
  'apikey',
  'api_key',
  'pushkey',
  'push_key',
  'token',
  'access_token',
  'password',
  'secret',
  'key',
];

const REDACTED = '***';

/**
 * A secret value ends where its parameter does (`&`, `#`) or where the URL does: at a character a
 * URL never holds raw (white space, a quote, `<`, `>`, a backslash) or the end of the text; the
 * punctuation of the sentence after it is kept (`…?pushkey=***: HTTP 400`). Without that end, the
 * pattern run over a whole JSON document or page swallowed the rest of it after the first such URL.
 */
const SECRET_PARAMETER_PATTERN = new RegExp(String.raw`([?&#](?:${SECRET_QUERY_PARAMETERS.join('|')})=)([^&#\s"'<>\\]*)`, 'gi');

function redactParameter(_match: string, name: string, value: string): string {
  let end = value.length;
  while (end > 0 && '.,:;)'.includes(value[end - 1] as string)) end -= 1;
  return `${name}${REDACTED}${value.slice(end)}`;
}

/** The URL with secret query values and any userinfo password replaced by `***`. */
export function redactUrl(url: string | URL): string {
  const text = typeof url === 'string' ? url : url.href;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    // Not a URL we can parse (a relative `next` link, a typo in config): redact by pattern alone.
    return text.replace(/(\/\/[^/?#:@]*:)[^/?#@]*@/, `$1${REDACTED}@`).replace(SECRET_PARAMETER_PATTERN, redactParameter);
  }
  if (parsed.password) parsed.password = REDACTED;
  // Work on the serialised text rather than URLSearchParams so the rest of the query keeps its
  // original encoding: the redacted URL must still read like the one that was requested.
  return parsed.href.replace(SECRET_PARAMETER_PATTERN, redactParameter);
}

/**
 * The secret values a URL carries (query values of secret parameters, the userinfo password), in
 * the forms they may be echoed back: a server's error body often quotes the query it refused.
 * Values shorter than four characters are left out.
 */
export function secretsInUrl(url: string | URL): string[] {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return [];
  }
  const secrets: string[] = [];
  if (parsed.password) secrets.push(parsed.password, decodeURIComponentSafely(parsed.password));
  for (const [name, value] of parsed.searchParams) {
    if (value && SECRET_QUERY_PARAMETERS.includes(name.toLowerCase())) secrets.push(value);
  }
  // Scrubbing by value replaces every occurrence: a three-character "secret" such as `key=10`
  // would turn every 10 in a message into ***, and is no secret worth hiding.
  return [...new Set(secrets)].filter((secret) => secret.length >= MIN_SECRET_LENGTH);
}

const MIN_SECRET_LENGTH = 4;

/** Request headers that carry credentials. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'x-api-key'];

/**
 * The credentials in request headers (whole value, and the part after an auth scheme such as
 * `Bearer`), so an error body that echoes them can be scrubbed like one that echoes the URL.
 */
export function secretsInHeaders(headers: Readonly<Record<string, string>> | undefined): string[] {
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!CREDENTIAL_HEADERS.includes(name.toLowerCase())) continue;
    secrets.push(value);
    const credential = /^\S+\s+(\S.*)$/.exec(value)?.[1];
    if (credential !== undefined) secrets.push(credential);
  }
  return [...new Set(secrets)].filter((secret) => secret.length >= MIN_SECRET_LENGTH);
}

/** Free text (a log line, an error message) with the values of secret query parameters replaced by `***`. */
export function redactSecretParameters(text: string): string {
  return text.replace(SECRET_PARAMETER_PATTERN, redactParameter);
}

/**
 * `text` with every occurrence of each secret replaced by `***`: raw, and in every form a URL or a
 * JSON document writes it (secret-forms.ts), so a secret in a URL path with a space or a `|` is
 * found as the URL parser encoded it.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  return secretRedactor(secrets)(text);
}

/** redactText with the forms of the secrets worked out once, for a scrubber applied to every log line. */
export function secretRedactor(secrets: readonly string[]): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of secretForms(secret)) forms.add(form);
  }
  // Longest first, so a secret that contains another is replaced whole.
  const ordered = [...forms].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const form of ordered) {
      if (out.includes(form)) out = out.split(form).join(REDACTED);
    }
    return out;
  };
}

const REDACTED_KEYS = [
  'apikey',
  'apiKey',
  'api_key',
  'pushkey',
  'pushKey',
  'push_key',
  'password',
  'secret',
  'token',
  'access_token',
  'accessToken',
  'authorization',
  'Authorization',
];

/**
 * pino `redact` paths: secret keys at the top of a log object and one or two levels down, and the
 * credential headers wherever a `headers` object is logged.
 */
export const REDACT_PATHS: readonly string[] = [
  ...REDACTED_KEYS,
  ...REDACTED_KEYS.map((key) => `*.${key}`),
  ...REDACTED_KEYS.map((key) => `*.*.${key}`),
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-api-key"]',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
  '*.headers["x-api-key"]',
];

function decodeURIComponentSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
