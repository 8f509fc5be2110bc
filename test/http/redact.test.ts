import { Writable } from 'node:stream';
import pino from 'pino';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS, redactSecretParameters, redactText, redactUrl, secretsInHeaders, secretsInUrl } from '../../src/http/redact.js';

describe('redactUrl', () => {
  it('hides the value of every secret query parameter, whatever its case', () => {
    const url =
      'https://portal.example.org/api?APIKEY=a1&api_key=a2&PushKey=a3&push_key=a4&token=a5&Access_Token=a6&password=a7&secret=a8&key=a9';
    expect(redactUrl(url)).toBe(
      'https://portal.example.org/api?APIKEY=***&api_key=***&PushKey=***&push_key=***&token=***&Access_Token=***&password=***&secret=***&key=***',
    );
  });

  it('leaves other parameters, including look-alike names, exactly as they were encoded', () => {
    const url = 'https://nsi.example.org/rest/data/OECD,DF_T(2.0)/all?updatedAfter=2024-01-01T00%3A00%3A00%2B01%3A00&keyword=a+b&monkey=1';
    expect(redactUrl(url)).toBe(url);
  });

  it('hides a userinfo password but keeps the user name', () => {
    expect(redactUrl('https://harvester:hunter2@db.example.org/feed')).toBe('https://harvester:***@db.example.org/feed');
  });

  it('hides a token in the fragment', () => {
    expect(redactUrl(new URL('https://example.org/cb#access_token=abcd&x=1'))).toBe('https://example.org/cb#access_token=***&x=1');
  });

  it('redacts text that is not a parseable URL by pattern', () => {
    expect(redactUrl('/records?apikey=abcd&limit=5')).toBe('/records?apikey=***&limit=5');
    expect(redactUrl('ftp//me:pw@?token=abc')).not.toContain('abc');
  });
});

describe('redactSecretParameters', () => {
  it('ends a secret value where the URL ends: a JSON document or a page holding an error that quotes the URL stays whole', () => {
    const error = 'push refused by http://h/api/push/1.0/p/realtime/push/?pushkey=k3y-v4lue: HTTP 400 Push is disabled';
    const document = JSON.stringify({ pushTargets: [{ lastError: error, delivered: 0 }], streams: [] }, null, 2);
    expect(JSON.parse(redactSecretParameters(document))).toEqual({
      pushTargets: [{ lastError: 'push refused by http://h/api/push/1.0/p/realtime/push/?pushkey=***: HTTP 400 Push is disabled', delivered: 0 }],
      streams: [],
    });
    expect(redactSecretParameters(`<td>"${'https://p/api?apikey=abc'}"</td><td>next</td>`)).toBe('<td>"https://p/api?apikey=***"</td><td>next</td>');
    expect(redactSecretParameters("at 'https://p/api?token=abc' then")).toBe("at 'https://p/api?token=***' then");
    expect(redactSecretParameters('see https://p/api?key=abc.')).toBe('see https://p/api?key=***.');
    expect(redactSecretParameters('https://p/api?key=a.b:c;d&x=1')).toBe('https://p/api?key=***&x=1');
  });
});

describe('secretsInUrl', () => {
  it('lists the secret query values and the password, raw and percent-decoded', () => {
    expect(secretsInUrl('https://u:p%40ssword@example.org/?apikey=k3y-value&limit=100').sort()).toEqual(
      ['k3y-value', 'p%40ssword', 'p@ssword'].sort(),
    );
  });

  it('leaves out values too short to scrub without garbling every message', () => {
    expect(secretsInUrl('https://example.org/?key=10&token=abc')).toEqual([]);
  });
});

describe('redactText', () => {
  it('replaces every occurrence of a secret, raw, percent-encoded or JSON-escaped', () => {
    const secret = 'pa ss"word/1';
    const text = `raw ${secret}, encoded ${encodeURIComponent(secret)}, json ${JSON.stringify({ secret })}`;
    const out = redactText(text, [secret]);
    expect(out).toBe('raw ***, encoded ***, json {"secret":"***"}');
  });

  it('finds a secret in a URL path with characters URLs percent-encode: a space, `|`, quotes, non-ASCII', () => {
    const secret = 'tok en|é"{x}';
    const url = new URL('http://127.0.0.1:1/rest/');
    url.pathname = `/rest/${secret}/data`;
    const line = `network error requesting ${url.href}`;
    expect(url.href).not.toContain(secret);
    expect(redactText(line, [secret])).toBe('network error requesting http://127.0.0.1:1/rest/***/data');
    expect(redactText(JSON.stringify({ err: line }), [secret])).toBe(JSON.stringify({ err: 'network error requesting http://127.0.0.1:1/rest/***/data' }));
  });

  it('finds a secret with a backslash in the path of an http(s) URL, which the URL parser writes as a slash', () => {
    const secret = 'tok\\en 1';
    const url = new URL('https://portal.example.org/');
    url.pathname = `/data/${secret}/records`;
    expect(url.pathname).toBe('/data/tok/en%201/records');
    expect(redactText(`failed: ${url.href}`, [secret])).toBe('failed: https://portal.example.org/data/***/records');
  });

  it('finds a secret however a URL or a JSON line wrote it: path, query, form, fragment, userinfo, encodeURI(Component), lower-case hex', () => {
    // Any text but `/`, which splits a path into segments the parser may rewrite (`..`).
    const secrets = fc.string({ unit: 'grapheme', minLength: 4, maxLength: 24 }).filter((text) => !text.includes('/') && text.trim().length >= 4);
    fc.assert(
      fc.property(secrets, (secret) => {
        const url = new URL('https://portal.example.org/');
        url.pathname = `/data/${secret}`;
        url.searchParams.set('q', secret);
        url.hash = secret;
        const written = [
          url.pathname.slice('/data/'.length),
          url.search.slice('?q='.length),
          // (The hash setter drops a leading `#`; a `#` in a URL's text starts its fragment.)
          ...(secret.startsWith('#') ? [] : [url.hash.slice(1)]),
          ...(secret.includes('#') || secret.trim() !== secret ? [] : [new URL(`https://portal.example.org/?q=${secret}`).search.slice('?q='.length)]),
          new URL(`https://user:${encodeURIComponent(secret)}@portal.example.org/`).password,
          encodeURI(secret),
          encodeURIComponent(secret),
          encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
        ];
        for (const form of written) {
          const text = `failed: <${form}> and ${JSON.stringify({ url: form })}`;
          const out = redactText(text, [secret]);
          expect(out).toBe('failed: <***> and {"url":"***"}');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('replaces a longer secret whole even when a shorter one is inside it', () => {
    expect(redactText('abcdef and abcd', ['abcd', 'abcdef'])).toBe('*** and ***');
  });

  it('ignores empty secrets', () => {
    expect(redactText('nothing to hide', [''])).toBe('nothing to hide');
  });
});

describe('REDACT_PATHS', () => {
  it('keeps authorization headers and secret keys out of pino output', () => {
    let output = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        output += chunk.toString('utf8');
        callback();
      },
    });
    const log = pino({ redact: { paths: [...REDACT_PATHS], censor: '***' } }, sink);
    log.info(
      {
        headers: { authorization: 'Bearer tok-1111', cookie: 'sid=tok-2222', accept: 'text/csv' },
        request: { headers: { Authorization: 'Basic tok-3333' } },
        apikey: 'tok-4444',
        job: { pushkey: 'tok-5555', password: 'tok-6666', nested: { secret: 'tok-7777' } },
        token: 'tok-8888',
      },
      'request made',
    );
    expect(output).toContain('text/csv');
    expect(output).toContain('request made');
    expect(output).not.toMatch(/tok-\d{4}/);
  });
});

describe('secretsInHeaders', () => {
  it('lists credential header values, whole and without their auth scheme', () => {
    expect(secretsInHeaders({ Authorization: 'Bearer abc.def', 'X-Api-Key': 'k-12345', Accept: 'text/csv' }).sort()).toEqual(
      ['Bearer abc.def', 'abc.def', 'k-12345'].sort(),
    );
  });
});
