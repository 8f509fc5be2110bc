import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { JsonValue } from '../../../src/core/json.js';

/** A recorded portal answer (test/fixtures/ods/vancouver): status, lower-case headers, body. */
export interface Capture {
  readonly url: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON for JSON answers, the exact text for CSV ones. */
  readonly body: JsonValue;
}

export function capture(name: string): Capture {
  return JSON.parse(readFileSync(new URL(`../../fixtures/ods/vancouver/${name}.json`, import.meta.url), 'utf8')) as Capture;
}

export function fixture(path: string): JsonValue {
  return JSON.parse(readFileSync(new URL(`../../fixtures/ods/${path}`, import.meta.url), 'utf8')) as JsonValue;
}

/**
 * Sends a capture again: its status and headers, and its body as the portal wrote it (error bodies
 * pretty-printed, others on one line). The recorded bodies were decompressed after the headers were
 * kept, so content-encoding and content-length are dropped.
 */
export function replay(res: ServerResponse, answer: Capture): void {
  const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => name !== 'content-encoding' && name !== 'content-length'));
  const text = typeof answer.body === 'string' ? answer.body : answer.status >= 400 ? JSON.stringify(answer.body, null, 2) : JSON.stringify(answer.body);
  res.writeHead(answer.status, headers);
  res.end(text);
}
