import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNsiSimulator, type NsiSimulator } from '../../src/simulators/nsi/nsi-simulator.js';
import { startOdsSimulator, type OdsSimulator } from '../../src/simulators/ods/ods-simulator.js';
import { startRpdePublisher, type RpdePublisher } from '../../src/simulators/rpde/publisher.js';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch-dir.js';

/** Debian's chromium, installed by .ci/run; Playwright's own browser downloads are never used. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const OUTPUT = fileURLToPath(new URL('../../test-output/status-page/', import.meta.url));
const TOKEN = 'e2e-status-token-5f1c0a9d2b';
const BROKEN = 'sdmx:broken:TEST:MISSING(1.0):data';
const GOOD = ['sdmx:stat:TEST:DF_BROWSER(1.0):data', 'sdmx:stat:TEST:DF_BROWSER(1.0):meta', 'rpde:feed:session-series'];
const RED = 'rgb(207, 34, 46)';
const PUSH_KEY = 'e2e-push-key-7d03be51a6';
/** The feed is pushed to two ODS realtime datasets: one that takes the records, one whose push is disabled. */
const DELIVERED = 'rpde:feed:session-series>sessions';
const PAUSED = 'rpde:feed:session-series>paused';
/** The few browser globals the page-side callbacks use: the project compiles without the DOM library. */
interface PageElement {
  readonly dataset: Readonly<Record<string, string | undefined>>;
  readonly hidden: boolean;
  readonly innerText: string;
  readonly textContent: string | null;
  querySelector(selector: string): PageElement | null;
}
interface ComputedStyle {
  readonly backgroundColor: string;
  readonly color: string;
  readonly position: string;
  readonly display: string;
  readonly boxShadow: string;
}
declare const getComputedStyle: (element: PageElement) => ComputedStyle;
declare const document: {
  readonly documentElement: { readonly scrollWidth: number };
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
};
declare const window: { readonly innerWidth: number };
const GREEN = 'rgb(26, 127, 55)';

describe('the status page in a real browser (headless Chromium)', () => {
  let nsi: NsiSimulator;
  let rpde: RpdePublisher;
  let ods: OdsSimulator;
  let daemon: CliProcess;
  let base: string;
  const dir = scratchDir('dss-browser-');
  const contexts: BrowserContext[] = [];
  let chromiumProcess: Browser | undefined;

  /**
   * A fresh profile each time, as a first-time visitor's browser: a new context of one Chromium
   * (no cookies, cache or credentials of the others), which costs a fraction of a browser launch.
   */
  async function browser(options: { javaScriptEnabled?: boolean; bearer?: boolean; login?: boolean } = {}): Promise<Page> {
    chromiumProcess ??= await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    const context = await chromiumProcess.newContext({
      viewport: { width: 1280, height: 900 },
      colorScheme: 'light',
      javaScriptEnabled: options.javaScriptEnabled ?? true,
      ...(options.bearer ? { extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` } } : {}),
      ...(options.login ? { httpCredentials: { username: 'operator', password: TOKEN } } : {}),
    });
    contexts.push(context);
    return context.newPage();
  }

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)`).toBe(true);
    mkdirSync(OUTPUT, { recursive: true });
    nsi = await startNsiSimulator();
    const flow = nsi.dataSpace.defineDataflow({
      agency: 'TEST',
      id: 'DF_BROWSER',
      version: '1.0',
      dimensions: ['FREQ', 'REF_AREA'],
      measures: ['OBS_VALUE'],
      attributes: [{ id: 'OBS_STATUS', attachment: 'observation' }],
      metadata: { attributes: ['NOTE'] },
    });
    flow.batch((m) => {
      for (const area of ['FR', 'DE', 'NL']) {
        for (const year of ['2022', '2023']) m.mergeObservation({ FREQ: 'A', REF_AREA: area, TIME_PERIOD: year }, { OBS_VALUE: '1', OBS_STATUS: 'A' });
        m.mergeMetadata({ FREQ: 'A', REF_AREA: area, TIME_PERIOD: '~' }, { NOTE: `about ${area}` });
      }
    });
    rpde = await startRpdePublisher({ items: 300, pageSize: 100 });
    rpde.feed.deleteMany([...rpde.feed.liveItems().keys()].slice(0, 12));
    ods = await startOdsSimulator({
      realtime: [
        { dataset: 'sessions', resource: 'realtime', pushKey: PUSH_KEY, uniqueIds: ['id'] },
        { dataset: 'paused', resource: 'realtime', pushKey: PUSH_KEY, uniqueIds: ['id'], enabled: false },
      ],
    });
    const pushTo = (dataset: string) => ({ url: `${ods.url}/api/push/1.0/${dataset}/realtime/push/?pushkey=\${DSS_E2E_PUSHKEY}`, uniqueId: ['id'] });
    const config = join(dir, 'sync.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        store: { engine: 'sqlite', path: join(dir, 'sync.db') },
        server: { host: '127.0.0.1', port: 0, tokens: ['${DSS_E2E_TOKEN}'] },
        // Push retries wait at most 5 x maxRetryDelay (1 s here, not minutes): the last test enables the
        // refused dataset and waits for the next retry, which the default let drift to 16 s away.
        client: { maxRetryDelay: '200ms' },
        defaults: { schedules: [{ every: '5s' }], jitter: '0s', backoff: { initial: '1h', max: '1h' } },
        jobs: [
          { id: 'stat', kind: 'sdmx', endpoint: nsi.url, dataflows: ['TEST:DF_BROWSER(1.0)'], metadata: true },
          { id: 'feed', kind: 'rpde', feeds: [{ url: rpde.url, prefix: 'sessions' }], pollInterval: '8s', push: [pushTo('sessions'), pushTo('paused')] },
          { id: 'broken', kind: 'sdmx', endpoint: nsi.url, dataflows: ['TEST:MISSING(1.0)'] },
        ],
      }),
    );
    daemon = startCli(['run', '--config', config], { env: { DSS_E2E_TOKEN: TOKEN, DSS_E2E_PUSHKEY: PUSH_KEY } });
    const deadline = Date.now() + 60_000;
    let endpoints: string | undefined;
    while (endpoints === undefined && Date.now() < deadline) {
      endpoints = /"endpoints":"(http:\/\/[^"]+)"/.exec(daemon.output())?.[1];
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(endpoints, daemon.output()).toBeDefined();
    base = endpoints as string;
    // Every good stream synced and the broken one failed, the feed delivered to one dataset and refused by the other, as the JSON sibling of the page says.
    const settled = async () => {
      const response = await fetch(`${base}/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const { streams, pushTargets } = (await response.json()) as {
        streams: { stream: string; status: string; lastError: string | null }[];
        pushTargets: { target: string; outboxDepth: number; delivered: number; consecutiveFailures: number }[];
      };
      const good = streams.filter((s) => GOOD.includes(s.stream) && s.status === 'idle').length;
      const delivered = pushTargets.some((t) => t.target === DELIVERED && t.outboxDepth === 0 && t.delivered > 0);
      const refused = pushTargets.some((t) => t.target === PAUSED && t.consecutiveFailures > 0);
      return good === GOOD.length && streams.some((s) => s.stream === BROKEN && s.lastError !== null) && delivered && refused;
    };
    while (!(await settled())) {
      if (Date.now() > deadline) throw new Error(`the streams did not settle:\n${daemon.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await chromiumProcess?.close().catch(() => undefined);
    daemon?.child.kill('SIGTERM');
    await daemon?.exited;
    await rpde?.close();
    await ods?.close();
    await nsi?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a visitor without the token and shows nothing of the mirror; the token as a login password opens it', async () => {
    const page = await browser();
    const answered = page.waitForResponse(`${base}/`);
    // Chromium gives up the navigation when it has no credentials to answer the Basic challenge with.
    await page.goto(`${base}/`).catch(() => undefined);
    const refusal = await answered;
    expect(refusal.status()).toBe(401);
    expect(await refusal.headerValue('www-authenticate')).toMatch(/^Basic realm="dataspace-sync"/);
    expect(await refusal.text()).not.toContain('sdmx:');
    for (const path of ['/status', '/metrics']) expect((await page.request.get(`${base}${path}`)).status()).toBe(401);
    for (const path of ['/healthz', '/readyz']) expect([200, 503]).toContain((await page.request.get(`${base}${path}`)).status());

    const login = await browser({ login: true });
    expect((await login.goto(`${base}/`))?.status()).toBe(200);
    expect(await login.locator('#streams-body tr[data-stream]').count()).toBe(4);
  });

  it('shows every stream, the failing one in red with its error; filters; refreshes itself; screenshots at desktop and phone widths', async () => {
    const page = await browser({ bearer: true });
    // The default refresh (15 s): nothing is swapped while the rows are read.
    const response = await page.goto(`${base}/`);
    expect(response?.status()).toBe(200);
    const rows = page.locator('#streams-body tr[data-stream]');
    // Read in one go, so that a refresh cannot swap the rows between two reads.
    const read = () => page.evaluate(() =>
      [...document.querySelectorAll('#streams-body tr[data-stream]')].map((row) => {
        const state = row.querySelector('.state') as PageElement;
        const error = row.querySelector('td.error') as PageElement;
        return {
          stream: row.dataset['stream'],
          state: state.innerText,
          stateColour: getComputedStyle(state).backgroundColor,
          error: error.innerText,
          errorColour: getComputedStyle(error).color,
          rows: (row.querySelector('td[data-label="rows applied"]') as PageElement).innerText,
        };
      }),
    );
    // A scheduled run may be in progress at the moment of reading: reload until none is (a few seconds at most).
    let seen = await read();
    for (let attempt = 0; attempt < 20 && seen.some((row) => row.state === 'running'); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await page.reload();
      seen = await read();
    }
    expect(seen.map((row) => row.stream).sort()).toEqual([...GOOD, BROKEN].sort());
    const broken = seen.find((row) => row.stream === BROKEN);
    expect(broken).toMatchObject({ stateColour: RED, errorColour: RED });
    expect(broken?.error).toMatch(/MISSING|404|not found/i);
    for (const stream of GOOD) expect(seen.find((row) => row.stream === stream)).toMatchObject({ state: 'idle', stateColour: GREEN, error: '' });
    expect(seen.find((row) => row.stream === 'rpde:feed:session-series')?.rows).toMatch(/288 upserted\s+12 deleted/);
    // The broken stream, and the push target whose endpoint is disabled.
    expect(await page.title()).toBe('dataspace-sync · 2 failing');
    expect(await page.locator('#summary').innerText()).toMatch(/2 push targets: 1 failing/);
    await page.screenshot({ path: join(OUTPUT, 'desktop.png'), fullPage: true });

    // Filters apply as they change, without a round trip, and stay in the address.
    await page.selectOption('select[name="state"]', 'problems');
    await expect.poll(() => rows.evaluateAll((all: PageElement[]) => all.filter((row) => !row.hidden).length)).toBe(1);
    expect(await page.locator(`tr[data-stream="${BROKEN}"]`).isVisible()).toBe(true);
    expect(new URL(page.url()).searchParams.get('state')).toBe('problems');
    await page.selectOption('select[name="state"]', '');
    await page.selectOption('select[name="job"]', 'stat');
    await expect.poll(() => rows.evaluateAll((all: PageElement[]) => all.filter((row) => !row.hidden).length)).toBe(2);
    await page.selectOption('select[name="job"]', '');

    // The page refreshes in place: the summary's time moves on, the rows are still there.
    await page.goto(`${base}/?refresh=2`);
    const before = await page.locator('#summary time').getAttribute('datetime');
    await expect.poll(() => page.locator('#summary time').getAttribute('datetime'), { timeout: 15_000 }).not.toBe(before);
    expect(await rows.count()).toBe(4);
    expect(await page.locator('#refresh-note').innerText()).toBe('');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(OUTPUT, 'phone.png'), fullPage: true });
    // Read in one go: this page refreshes every 2 s, and a row found before a refresh and read after
    // it is detached, with no style at all.
    const phone = await page.evaluate((broken) => {
      const style = (selector: string) => getComputedStyle(document.querySelector(selector) as PageElement);
      return {
        head: style('#streams thead').position,
        row: style(`tr[data-stream="${broken}"]`).display,
        overflow: document.documentElement.scrollWidth - window.innerWidth,
      };
    }, BROKEN);
    expect(phone.head).toBe('absolute');
    expect(phone.row).toBe('block');
    expect(phone.overflow).toBeLessThanOrEqual(0);
  });

  it('works without JavaScript: the table is complete, the filter form submits, the page reloads itself', async () => {
    const page = await browser({ bearer: true, javaScriptEnabled: false });
    await page.goto(`${base}/?state=problems`);
    expect(await page.locator('html').getAttribute('class')).toBeNull();
    const rows = page.locator('#streams-body tr[data-stream]');
    expect(await rows.count()).toBe(4);
    const visible = async () => (await Promise.all((await rows.all()).map((row) => row.isVisible()))).filter(Boolean).length;
    expect(await visible()).toBe(1);
    expect(await page.locator(`tr[data-stream="${BROKEN}"]`).isVisible()).toBe(true);
    expect(await page.locator('noscript').count()).toBe(1);

    await page.selectOption('select[name="state"]', '');
    await Promise.all([page.waitForURL(/state=(&|$)/), page.locator('#filters button[type="submit"]').click()]);
    expect(await visible()).toBe(4);
    await page.screenshot({ path: join(OUTPUT, 'no-javascript.png'), fullPage: true });
  });

  it('shows each push target: the delivered one with an empty outbox, the refused one in red with its outbox, push lag and ODS\'s message; delivery resumes in place once the endpoint is enabled', async () => {
    const page = await browser({ bearer: true });
    await page.goto(`${base}/?refresh=2`);
    // Read in one go, so that a refresh cannot swap the rows between two reads.
    const read = () =>
      page.evaluate(() =>
        [...document.querySelectorAll('#push-targets tbody tr')].map((row) => {
          const cell = (label: string) => (row.querySelector(`td[data-label="${label}"]`) as PageElement).innerText.trim();
          const error = row.querySelector('td.error') as PageElement;
          return {
            target: cell('push target').replace(/\s+/g, ''),
            outbox: cell('outbox'),
            lag: cell('push lag'),
            lastSuccess: cell('last success'),
            failures: cell('failures'),
            delivered: cell('records delivered'),
            // Folded behind its first line when long: the whole of it.
            error: error.textContent ?? '',
            errorColour: getComputedStyle(error).color,
            edge: getComputedStyle(row.querySelector('td') as PageElement).boxShadow,
          };
        }),
      );
    const byTarget = async () => new Map((await read()).map((row) => [row.target, row]));
    const seen = await byTarget();
    expect([...seen.keys()].sort()).toEqual([PAUSED, DELIVERED].sort());
    expect(seen.get(DELIVERED)).toMatchObject({ outbox: '0', lag: 'none', failures: '0', delivered: '288', error: '' });
    expect(seen.get(DELIVERED)?.lastSuccess).toMatch(/ago$/);
    expect(seen.get(DELIVERED)?.edge).not.toContain(RED);
    const paused = seen.get(PAUSED);
    expect(Number(paused?.outbox)).toBeGreaterThan(0);
    expect(paused?.lag).toMatch(/^\d+ (s|min)$/);
    expect(Number(paused?.failures)).toBeGreaterThan(0);
    expect(paused).toMatchObject({ delivered: '0', errorColour: RED });
    expect(paused?.edge).toContain(RED);
    expect(paused?.error).toMatch(/HTTP 400.*Push is disabled on resource realtime of paused/s);
    // The push URL is shown with its key hidden, never the key.
    expect(await page.content()).not.toContain(PUSH_KEY);
    // The whole page: the refresh replaces the push table in place, so an element shot can lose its element.
    await page.screenshot({ path: join(OUTPUT, 'push-targets.png'), fullPage: true });

    // The back office's "Disable push" switched off: the daemon delivers at its next attempt, and the row changes without a reload.
    ods.push.setEnabled('paused', true);
    await expect
      .poll(async () => (await byTarget()).get(PAUSED), { timeout: 30_000, interval: 500 })
      .toMatchObject({ outbox: '0', lag: 'none', failures: '0', delivered: '288', error: '' });
    expect(ods.push.count('paused')).toBe(288);
  });
});
