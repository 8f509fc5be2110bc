import { parentPort } from 'node:worker_threads';
import { decodeInPlace, type DecodeReply, type DecodeRequest } from './page-decoder.js';

/** Decodes RPDE pages for page-decoder.ts, off the thread that applies them to the store. */
const port = parentPort;
if (port === null) throw new Error('page-decoder-worker must run in a worker thread');
port.on('message', ({ id, text, pageUrl, maxItems }: DecodeRequest) => {
  const decoded = decodeInPlace(text, pageUrl, maxItems);
  if (decoded.page === undefined) {
    port.postMessage({ id, ...decoded } satisfies DecodeReply);
    return;
  }
  // The data texts go back as offsets into the page, which the other thread holds: copying
  // ~1 KB per item across threads cost more than the rest of the reply.
  const dataSpans = new Int32Array(decoded.page.items.length * 2).fill(-1);
  let from = 0;
  const items = decoded.page.items.map((item, index) => {
    if (item.data === undefined) return item;
    const at = text.indexOf(item.data, from);
    if (at < 0) return item;
    dataSpans[index * 2] = at;
    dataSpans[index * 2 + 1] = at + item.data.length;
    from = at + item.data.length;
    return { ...item, data: undefined };
  });
  port.postMessage({ id, page: { ...decoded.page, items }, dataSpans, findings: decoded.findings } satisfies DecodeReply, [dataSpans.buffer]);
});
