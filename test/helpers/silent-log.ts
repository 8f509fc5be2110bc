import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';

/** A logger that keeps its lines in memory, so tests can assert on them (and stay quiet). */
export function memoryLogger(level = 'debug'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { log: pino({ level }, sink), lines };
}
