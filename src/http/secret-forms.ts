/**
 * The ways a secret value can be written once it travels in a URL or a JSON document, so that
 * scrubbing by value finds it whatever quoted it: a URL parser percent-encodes a path one way
 * (a space, `"`, `{`, non-ASCII) and a query another, encodeURI and encodeURIComponent differ on
 * `|`, `/`, `?`, forms write a space as `+`, some servers write the hex digits in lower case, and
 * a JSON log line escapes quotes, backslashes and control characters.
 */
export function secretForms(secret: string): string[] {
  const encoded = new Set<string>([
    encodeURIComponentSafely(secret),
    encodeURISafely(secret),
    // What the WHATWG URL parser writes (href, pathname, search): its percent-encode sets.
    percentEncode(secret, inPathSet),
    percentEncode(secret.replace(/\\/g, '/'), inPathSet),
    percentEncode(secret, inQuerySet),
    percentEncode(secret, inSpecialQuerySet),
    percentEncode(secret, inFragmentSet),
    percentEncode(secret, inUserinfoSet),
    // application/x-www-form-urlencoded (URLSearchParams): a space is `+`.
    new URLSearchParams([['', secret]]).toString().slice(1),
  ]);
  for (const form of [...encoded]) encoded.add(form.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()));
  const forms = new Set<string>([secret, ...encoded]);
  for (const form of [...forms]) forms.add(JSON.stringify(form).slice(1, -1));
  return [...forms].filter((form) => form.length > 0);
}

type InSet = (code: number) => boolean;

const C0_OR_ABOVE = (code: number) => code < 0x20 || code > 0x7e;
const inFragmentSet: InSet = (code) => C0_OR_ABOVE(code) || ' "<>`'.includes(String.fromCharCode(code));
const inQuerySet: InSet = (code) => C0_OR_ABOVE(code) || ' "#<>'.includes(String.fromCharCode(code));
const inSpecialQuerySet: InSet = (code) => inQuerySet(code) || code === 0x27;
const inPathSet: InSet = (code) => inQuerySet(code) || '?^`{}'.includes(String.fromCharCode(code));
const inUserinfoSet: InSet = (code) => inPathSet(code) || '/:;=@[\\]^|'.includes(String.fromCharCode(code));

/** Percent-encodes the UTF-8 bytes of the characters in `set`, as the URL standard does. */
function percentEncode(text: string, set: InSet): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (!set(code)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** encodeURIComponent throws on a lone surrogate; such a value is then matched in its other forms. */
function encodeURIComponentSafely(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text;
  }
}

function encodeURISafely(text: string): string {
  try {
    return encodeURI(text);
  } catch {
    return text;
  }
}
