import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import type { NsiFault } from './faults.js';

/**
 * Streams generated lines to the client in chunks, honouring backpressure (the body of a
 * million-row answer is never held in memory), gzip-compressed when asked, and applies the body
 * faults: a cut, a failure mid-stream, a slow body, a malformed row.
 */

const CHUNK_CHARS = 64 * 1024;

export interface StreamBodyOptions {
  readonly gzipLevel: number | undefined;
  readonly fault: NsiFault | undefined;
  /** Cells in a row, to build a row with too many of them. */
  readonly columns: number;
  /** The first two cells of the answer's rows (`dataflow,AGENCY:ID(VERSION)`), for a bad row of the same dataflow. */
  readonly rowStart: string;
  readonly lineEnding: string;
}

export async function streamLines(res: ServerResponse, header: string, lines: Iterator<string>, options: StreamBodyOptions): Promise<void> {
  const { fault } = options;
  const wire = new Wire(res, fault?.type === 'cutBody' ? fault.afterBytes : undefined);
  const gzip = options.gzipLevel === undefined ? undefined : createGzip({ level: options.gzipLevel });
  if (gzip) gzip.pipe(wire);
  const head: Writable = gzip ?? wire;
  const failed = new Promise<never>((_, reject) => {
    const fail = (error: Error): void => reject(error);
    head.once('error', fail);
    wire.once('error', fail);
  });
  failed.catch(() => undefined);

  const write = async (text: string): Promise<void> => {
    if (!head.write(text)) await Promise.race([once(head, 'drain'), failed]);
  };

  let chunk = header;
  let rows = 0;
  const flushEvery = fault?.type === 'slowBody' ? (fault.rowsPerChunk ?? 1) : Number.POSITIVE_INFINITY;
  const fastRows = fault?.type === 'slowBody' ? (fault.afterRows ?? 0) : 0;
  try {
    for (;;) {
      if (fault?.type === 'badRow' && rows === fault.afterRows) chunk += badRow(fault.kind, options) + options.lineEnding;
      if (fault?.type === 'errorAfterRows' && rows === fault.rows) {
        // What an ASP.NET server does when it fails after the 200 went out: whatever text it
        // manages to write, then the connection drops before the final chunk.
        chunk += `Error: 500 Internal Server Error - the query failed after ${rows} rows${options.lineEnding}`;
        wire.abortAtEnd = true;
        break;
      }
      const step = lines.next();
      if (step.done) break;
      chunk += step.value;
      rows += 1;
      if (rows > fastRows && (rows - fastRows) % flushEvery === 0) {
        await write(chunk);
        chunk = '';
        await sleep((fault as { delayMs: number }).delayMs);
      } else if (chunk.length >= CHUNK_CHARS) {
        await write(chunk);
        chunk = '';
      }
      if (wire.stopped) break;
    }
    if (chunk && !wire.stopped) await write(chunk);
    head.end();
    await Promise.race([once(wire, 'finish'), failed]);
  } catch {
    // The client went away or the connection was cut on purpose: nothing more to send.
    if (!res.destroyed) res.destroy();
  } finally {
    lines.return?.(undefined);
  }
}

function badRow(kind: 'unknownAction' | 'tooManyCells', options: StreamBodyOptions): string {
  // The answer's own dataflow, so that the action is the only thing wrong with the row.
  if (kind === 'unknownAction') return [options.rowStart, 'X', ...Array<string>(Math.max(0, options.columns - 3)).fill('')].join(',');
  return Array.from({ length: options.columns + 3 }, (_, i) => `extra${i}`).join(',');
}

/** The last stage before the socket: counts bytes for a cut, and can end without the final chunk. */
class Wire extends Writable {
  private written = 0;
  stopped = false;
  abortAtEnd = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly cutAfter: number | undefined,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.stopped) {
      callback();
      return;
    }
    if (this.res.destroyed) {
      callback(new Error('the client closed the connection'));
      return;
    }
    if (this.cutAfter !== undefined && this.written + chunk.length >= this.cutAfter) {
      const part = chunk.subarray(0, this.cutAfter - this.written);
      this.written += part.length;
      this.stopped = true;
      this.res.write(part, () => dropConnection(this.res));
      callback();
      return;
    }
    this.written += chunk.length;
    if (this.res.write(chunk)) {
      callback();
      return;
    }
    const onDrain = (): void => {
      this.res.off('close', onClose);
      callback();
    };
    const onClose = (): void => {
      this.res.off('drain', onDrain);
      callback(new Error('the client closed the connection'));
    };
    this.res.once('drain', onDrain);
    this.res.once('close', onClose);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.stopped) {
      callback();
      return;
    }
    if (this.abortAtEnd) {
      this.stopped = true;
      this.res.write('', () => dropConnection(this.res));
      callback();
      return;
    }
    this.res.end(() => callback());
  }
}

/** Closes the connection after what was written, without the chunked encoding's last chunk. */
function dropConnection(res: ServerResponse): void {
  const socket = res.socket;
  if (socket) socket.destroySoon();
  else res.destroy();
}
