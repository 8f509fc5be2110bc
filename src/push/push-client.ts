import type { HttpClient } from '../http/client.js';
import { redactUrl } from '../http/redact.js';

/**
 * The Push API of one realtime dataset (ODS docs, "Pushing data to a realtime dataset"): POST a
 * JSON array to `…/push/` to add or replace records, to `…/delete/` (trailing slash kept) to delete
 * the records those values identify. Success is `{"status": "OK"}`, in any case; anything else is
 * a failure, and a re-send is harmless (the same values give the same record).
 *
 * A delete of values the dataset does not hold is taken to be answered OK too, as the simulator
 * does: ODS processes pushed records after answering ("records are processed one by one as soon
 * as they are received"), so its answer cannot depend on what the dataset holds. This is an
 * assumption, not checked against a real portal. The pusher relies on it when it deletes the values
 * of a push whose answer it never got (the push may not have been applied): were such a delete
 * refused, the target would fail with ODS's message (status, `delivered` unchanged) rather than
 * count it done, since a refusal cannot be told from one of a disabled endpoint or a wrong key.
 */

/** ODS refused the request for a reason a retry will not fix by itself (a disabled endpoint, a wrong key, another 4xx). */
export class PushRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'PushRefusedError';
  }
}

export type PushOperation = 'push' | 'delete';

export class PushClient {
  constructor(
    private readonly url: string,
    private readonly http: HttpClient,
  ) {}

  /** The URL of an operation: the configured push URL, its `/push/` replaced for deletes. */
  urlOf(operation: PushOperation): string {
    if (operation === 'push') return this.url;
    const parsed = new URL(this.url);
    parsed.pathname = parsed.pathname.replace(/\/push\/$/, '/delete/');
    return parsed.href;
  }

  /** Sends one body; resolves once ODS said OK. Network errors, 5xx and 429 are retried by the HTTP client first. */
  async send(operation: PushOperation, body: string, signal: AbortSignal): Promise<void> {
    const url = this.urlOf(operation);
    const response = await this.http.request(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      // Pushing the same values again gives the same records: the request is idempotent.
      retry: true,
      signal,
      acceptStatus: CLIENT_ERRORS,
    });
    const text = await response.text();
    if (response.status >= 400) throw new PushRefusedError(response.status, `${operation} refused by ${redactUrl(url)}: HTTP ${response.status}${messageOf(text)}`);
    const status = statusOf(text);
    if (status?.toLowerCase() !== 'ok') {
      throw new PushRefusedError(response.status, `${operation} to ${redactUrl(url)} was not acknowledged: HTTP ${response.status}, ${JSON.stringify(text.slice(0, 200))}`);
    }
  }
}

/** 4xx but 429 (retried): handed back to read ODS's message. */
const CLIENT_ERRORS = Array.from({ length: 100 }, (_, index) => 400 + index).filter((status) => status !== 429);

function statusOf(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'status' in parsed && typeof parsed.status === 'string') return parsed.status;
  } catch {
    // Not JSON: not an acknowledgement.
  }
  return undefined;
}

/** `: <message>` from an error body (`message`, `error`, `detail`), or its start. */
function messageOf(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) {
      for (const key of ['message', 'error', 'detail']) {
        const value = (parsed as Record<string, unknown>)[key];
        if (typeof value === 'string' && value !== '') return `: ${value}`;
      }
    }
  } catch {
    // Falls through to the raw text.
  }
  const trimmed = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return trimmed === '' ? '' : `: ${trimmed}`;
}
