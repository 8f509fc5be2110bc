import type { HttpClient } from '../http/client.js';
import { pushUrlParts, type PushTargetConfig } from './push-config.js';

/**
 * Empties a realtime dataset the only way Opendatasoft offers: through its Automation API v1.0,
 * unpublish it (its pushed records are lost) and publish it again. The dataset uid is looked up
 * from the push URL's dataset id; each step waits until the dataset is idle, as ODS refuses a
 * publish or unpublish while it is processing.
 */
export interface EmptyOptions {
  readonly http: HttpClient;
  readonly signal: AbortSignal;
  /** Between two status polls (default 3 s, as ODS's own tooling waits). */
  readonly pollMs?: number;
  /** Longest wait for the dataset to become idle (default 10 min). */
  readonly idleTimeoutMs?: number;
}

export class AutomationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AutomationError';
  }
}

export async function emptyDataset(target: PushTargetConfig, options: EmptyOptions): Promise<{ uid: string }> {
  const parts = pushUrlParts(target.url);
  const automation = target.automation;
  if (!parts || !automation) throw new AutomationError('the push target has no Automation API key: the dataset cannot be emptied');
  const base = `${(automation.portal ?? parts.origin).replace(/\/+$/, '')}/api/automation/v1.0`;
  const headers = { authorization: `apikey ${automation.apiKey}`, accept: 'application/json' };
  const call = async (method: 'GET' | 'POST', path: string): Promise<unknown> => {
    const response = await options.http.request(`${base}${path}`, { method, headers, signal: options.signal, retry: method === 'GET' });
    return response.json();
  };
  const listing = await call('GET', `/datasets/?dataset_id=${encodeURIComponent(parts.dataset)}&limit=10`);
  const results: unknown[] = isObject(listing) && Array.isArray(listing['results']) ? (listing['results'] as unknown[]) : [];
  const found = results.find((result) => isObject(result) && result['dataset_id'] === parts.dataset);
  const uid = isObject(found) && typeof found['uid'] === 'string' ? found['uid'] : undefined;
  if (uid === undefined) throw new AutomationError(`the Automation API knows no dataset ${parts.dataset}`);
  const path = `/datasets/${encodeURIComponent(uid)}`;
  const waitIdle = async (): Promise<void> => {
    const deadline = Date.now() + (options.idleTimeoutMs ?? 600_000);
    for (;;) {
      const status = await call('GET', `${path}/status/`);
      const value = isObject(status) ? status['status'] : undefined;
      if (value === 'idle') return;
      if (value === 'error' || value === 'limit_reached') {
        throw new AutomationError(`dataset ${parts.dataset} is in status ${value}${isObject(status) && typeof status['message'] === 'string' ? `: ${status['message']}` : ''}`);
      }
      if (Date.now() > deadline) throw new AutomationError(`dataset ${parts.dataset} did not become idle (still ${String(value)})`);
      await sleep(options.pollMs ?? 3_000, options.signal);
    }
  };
  await waitIdle();
  await call('POST', `${path}/unpublish/`);
  await waitIdle();
  await call('POST', `${path}/publish/`);
  await waitIdle();
  return { uid };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      },
      { once: true },
    );
  });
}
