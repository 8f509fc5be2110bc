import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startRpdePublisher, type RpdePublisher, type RpdePublisherOptions } from '../../../src/simulators/rpde/publisher.js';
import { isLastPage, readPage } from './read-page.js';

let publisher: RpdePublisher | undefined;
afterEach(async () => {
  await publisher?.close();
  publisher = undefined;
});

async function start(options: RpdePublisherOptions = {}): Promise<RpdePublisher> {
  publisher = await startRpdePublisher({ items: 12, pageSize: 4, ...options });
  return publisher;
}

describe('RPDE simulator transport faults', () => {
  it('answers 503 with Retry-After once, then the page again', async () => {
    const { url } = await start();
    const clean = await readPage(url);
    publisher?.injectFault({ type: 'status', status: 503, retryAfter: '3600' });

    const spoilt = await fetch(url);
    expect(spoilt.status).toBe(503);
    expect(spoilt.headers.get('retry-after')).toBe('3600');
    await spoilt.text();
    expect((await readPage(url)).text).toBe(clean.text);
  });

  it('answers 503 without Retry-After, and 429 with one, for the next N requests only', async () => {
    const { url } = await start();
    publisher?.injectFault({ type: 'status', status: 503 }, { times: 2 });
    publisher?.injectFault({ type: 'status', status: 429, retryAfter: '120' });

    const statuses: [number, string | null][] = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await fetch(url);
      await response.text();
      statuses.push([response.status, response.headers.get('retry-after')]);
    }
    expect(statuses).toEqual([
      [503, null],
      [503, null],
      [429, '120'],
      [200, null],
    ]);
  });

  it('marks the feed gone with 404 or 410 for as long as asked, on matching URLs only', async () => {
    const { url } = await start();
    const second = (await readPage(url)).next;
    publisher?.injectFault({ type: 'status', status: 410 }, { times: Infinity, match: (u) => u.searchParams.has('afterId') });

    expect((await readPage(url)).status).toBe(200);
    expect((await fetch(second)).status).toBe(410);
    expect((await fetch(second)).status).toBe(410);
    publisher?.clearFaults();
    expect((await readPage(second)).status).toBe(200);
  });

  it('serves a 200 with an HTML challenge page instead of JSON', async () => {
    const { url } = await start();
    publisher?.injectFault({ type: 'html' });
    const response = await fetch(url);
    const text = await response.text();

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(text.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
  });

  it('cuts the body: part of the JSON under the full Content-Length, then the connection is destroyed', async () => {
    const { url } = await start();
    const clean = await readPage(url);
    publisher?.injectFault({ type: 'cutBody', afterBytes: 700 });

    const response = await request(url);
    expect(response.statusCode).toBe(200);
    expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(clean.text));
    const received: Buffer[] = [];
    const reading = (async () => {
      for await (const chunk of response.body) received.push(chunk as Buffer);
    })();
    await expect(reading).rejects.toThrow();
    const partial = Buffer.concat(received).toString('utf8');
    expect(partial.length).toBeLessThanOrEqual(700);
    expect(clean.text.startsWith(partial)).toBe(true);
  });

  it('dribbles a slow body that arrives whole for a patient client', async () => {
    const { url } = await start();
    const clean = await readPage(url);
    publisher?.injectFault({ type: 'slowBody', delayMs: 2, chunkBytes: 1500 });

    const response = await request(url);
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(clean.text);
    expect(publisher?.requests.at(-1)?.fault).toBe('slowBody');
  });

  it('holds a slow body long enough for a client body timeout to fire', async () => {
    const { url } = await start();
    publisher?.injectFault({ type: 'slowBody', delayMs: 5000 });

    const response = await request(url, { bodyTimeout: 100 });
    await expect(response.body.text()).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' });
  });
});

describe('RPDE simulator page faults', () => {
  it('self-loop: next is the request URL although the page has items', async () => {
    const { url } = await start();
    publisher?.injectFault({ type: 'selfLoop' });
    const page = await readPage(url);

    expect(page.items.length).toBe(4);
    expect(page.next).toBe(url);
  });

  it('foreign next: same path and cursor on another origin (by default the same server under another host name); faults spoil consecutive responses', async () => {
    const { url, origin } = await start();
    const clean = await readPage(url);
    publisher?.injectFault({ type: 'foreignNext' });
    publisher?.injectFault({ type: 'foreignNext', origin: 'https://evil.example.net' });

    const first = await readPage(url);
    const second = await readPage(url);
    const port = new URL(origin).port;
    expect(first.next).toBe(clean.next.replace(origin, `http://localhost:${port}`));
    expect(second.next).toBe(clean.next.replace(origin, 'https://evil.example.net'));
  });

  it('relative next: a path without scheme and host', async () => {
    const { url, origin } = await start();
    const clean = await readPage(url);
    publisher?.injectFault({ type: 'relativeNext' });
    expect((await readPage(url)).next).toBe(clean.next.slice(origin.length));
  });

  it('regressing modified: an item seen earlier comes back mid-page with a lower modified and stale data', async () => {
    const { url, feed } = await start();
    const second = (await readPage(url)).next;
    const head = feed.head();
    const clean = await readPage(second);
    publisher?.injectFault({ type: 'regressingModified' });
    const page = await readPage(second);

    expect(page.items).toHaveLength(5);
    const injected = page.items[2];
    expect(injected?.id).toBe('ss-0000001');
    expect(injected?.id).toBe(head?.id);
    expect(injected?.modified).toBe((head?.modified ?? 0n) - 1n);
    expect(injected?.data).not.toEqual(feed.liveItems().get('ss-0000001')?.data);
    expect(page.next).toBe(clean.next);
  });

  it('duplicate id: the first item of the page appears twice, next unchanged', async () => {
    const { url } = await start();
    const clean = await readPage(url);
    publisher?.injectFault({ type: 'duplicateId' });
    const page = await readPage(url);

    expect(page.items.map((item) => item.id)).toEqual([
      clean.items[0]?.id,
      clean.items[0]?.id,
      ...clean.items.slice(1).map((item) => item.id),
    ]);
    expect(page.next).toBe(clean.next);
  });

  it('afterId without afterTimestamp: following it starts the feed over', async () => {
    const { url } = await start();
    const clean = await readPage(url);
    publisher?.injectFault({ type: 'afterIdOnly' });
    const page = await readPage(url);

    const next = new URL(page.next);
    expect(next.searchParams.get('afterId')).toBe('ss-0000004');
    expect(next.searchParams.has('afterTimestamp')).toBe(false);
    expect((await readPage(page.next)).items).toEqual(clean.items);
  });

  it('afterTimestamp without afterId', async () => {
    const { url } = await start();
    publisher?.injectFault({ type: 'afterTimestampOnly' });
    const next = new URL((await readPage(url)).next);
    expect(next.searchParams.has('afterTimestamp')).toBe(true);
    expect(next.searchParams.has('afterId')).toBe(false);
  });

  it('a page fault waits for a page it applies to: the last page stays clean until items arrive', async () => {
    const { url, feed } = await start({ items: 2, pageSize: 10 });
    const lastUrl = (await readPage(url)).next;
    publisher?.injectFault({ type: 'duplicateId' });

    const stillLast = await readPage(lastUrl);
    expect(isLastPage(stillLast)).toBe(true);
    feed.upsert(feed.newId());
    const page = await readPage(lastUrl);
    expect(page.items).toHaveLength(2);
    expect(page.items[0]?.id).toBe(page.items[1]?.id);
    expect(publisher?.requests.map((r) => r.fault)).toEqual([undefined, undefined, 'duplicateId']);
  });
});
