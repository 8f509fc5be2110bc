import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { STATUS_PAGE_SCRIPT } from '../../src/daemon/status-page-assets.js';
import { startTestDaemon, TEST_SECRET, until, type RunningDaemon } from '../helpers/daemon.js';
import { testKind } from '../helpers/test-source.js';

const TOKEN = 'page-token-0123456789abcdef';
const HOSTILE = `<script>alert("owned")</script><img src=x onerror=alert(1)>`;

function rowsOf(page: string): { stream: string; attributes: string }[] {
  return [...page.matchAll(/<tr data-stream="([^"]+)"([^>]*)>/g)].map((match) => ({ stream: match[1] as string, attributes: match[2] as string }));
}

describe('the status page at /', () => {
  let running: RunningDaemon | undefined;
  afterEach(async () => {
    await running?.cleanup();
    running = undefined;
  });

  it('shows one row per stream with its state, counts and error, escaping what came from remote data', async () => {
    running = await startTestDaemon({ units: 1, failInUnit: 0, failWith: () => new Error(`bad answer ${HOSTILE} (key ${TEST_SECRET})`) });
    const { base, daemon } = running;
    await until(async () => (await daemon.reports()).every((report) => report.lastError !== null));

    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const page = await response.text();
    expect(rowsOf(page).map((row) => row.stream)).toEqual(['test:demo:0', 'test:demo:1']);
    expect(page).toContain('class="tone-bad"');
    expect(page).toContain('<span class="state">backoff</span>');
    expect(page).toContain('&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img');
    expect(page).not.toContain(TEST_SECRET);
    expect(page).toContain('(key ***)');
    expect(page).toContain('<title>dataspace-sync · 2 failing</title>');
  });

  it('allows only its own inline script and style (Content-Security-Policy by hash)', async () => {
    running = await startTestDaemon({ units: 1 });
    const response = await fetch(`${running.base}/`);
    const csp = response.headers.get('content-security-policy') ?? '';
    const hash = createHash('sha256').update(STATUS_PAGE_SCRIPT).digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect([...(await response.text()).matchAll(/<script>/g)]).toHaveLength(1);
  });

  it('filters by job and state from the query string, hiding the other rows without script', async () => {
    running = await startTestDaemon({ units: 1 }, { streams: 2 });
    const { base, daemon } = running;
    await until(async () => (await daemon.reports()).every((report) => report.lastSuccessAt !== null));

    const idle = rowsOf(await (await fetch(`${base}/?state=idle`)).text());
    expect(idle.every((row) => !row.attributes.includes(' hidden'))).toBe(true);
    const problems = rowsOf(await (await fetch(`${base}/?state=problems`)).text());
    expect(problems.map((row) => row.attributes.includes(' hidden'))).toEqual([true, true]);
    const otherJob = await (await fetch(`${base}/?job=another`)).text();
    expect(rowsOf(otherJob).every((row) => row.attributes.includes(' hidden'))).toBe(true);
    expect(await (await fetch(`${base}/?job=demo&state=idle`)).text()).toContain('<option value="demo" selected>demo</option>');
  });
});

describe('endpoint tokens', () => {
  let running: RunningDaemon | undefined;
  afterEach(async () => {
    await running?.cleanup();
    running = undefined;
  });

  async function start(): Promise<string> {
    running = await startTestDaemon({ units: 1 }, {}, { server: { host: '127.0.0.1', port: 0, tokens: ['${DSS_TOKEN}'] } }, { DSS_TOKEN: TOKEN });
    return running.base;
  }

  it('refuse /, /status and /metrics without the token, with a challenge a browser answers; /healthz and /readyz stay open', async () => {
    const base = await start();
    for (const path of ['/', '/status', '/metrics']) {
      for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Bearer ${TOKEN}x`, `Basic ${Buffer.from(`me:${TOKEN.slice(1)}`).toString('base64')}`, TOKEN]) {
        const response = await fetch(`${base}${path}`, { headers: authorization ? { authorization } : {} });
        expect(response.status, `${path} with ${authorization}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="dataspace-sync".*, Bearer realm="dataspace-sync"$/);
        expect(await response.text()).not.toContain('test:demo');
      }
    }
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect([200, 503]).toContain((await fetch(`${base}/readyz`)).status);
  });

  it('accept the token as a Bearer token or as the password of Basic authentication', async () => {
    const base = await start();
    const bearer = { authorization: `Bearer ${TOKEN}` };
    const basic = { authorization: `Basic ${Buffer.from(`operator:${TOKEN}`).toString('base64')}` };
    for (const path of ['/', '/status', '/metrics']) {
      expect((await fetch(`${base}${path}`, { headers: bearer })).status).toBe(200);
      expect((await fetch(`${base}${path}`, { headers: basic })).status).toBe(200);
    }
  });

  it('must be at least 16 characters', () => {
    const parse = (token: string) => () =>
      parseConfig(JSON.stringify({ server: { tokens: ['${T}'] }, jobs: [] }), 'f', [testKind({ units: 1 }, [])], { T: token });
    expect(parse('short-token')).toThrow(/server\.tokens\[0\]: a token must be at least 16 characters/);
    expect(parse('long-enough-token-1234')).not.toThrow();
  });
});
