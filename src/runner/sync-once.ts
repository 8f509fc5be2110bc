import type { Logger } from 'pino';
import type { OutboxTracking } from '../store/delivery.js';
import type { HttpClient } from '../http/client.js';
import type { Store } from '../store/store.js';
import { describeError } from './describe-error.js';
import { runStream } from './run-stream.js';
import type { ScheduledStream } from './scheduler.js';

export interface SyncOnceOptions {
  readonly store: Store;
  readonly http: HttpClient;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** Streams synced at the same time, at most (the config's `concurrency`). */
  readonly concurrency: number;
  /** Who runs them, for the leases. */
  readonly owner?: string;
}

/**
 * `sync`: runs each stream once with a pool of `concurrency` workers, the way the daemon would,
 * but without schedules or backoff; each run has its stream's runTimeout, as in the daemon. A
 * failed stream is logged and counted; the others still run.
 * The runs are requested by an operator, so a source's own floor between polls does not hold them back.
 */
export async function syncOnce(
  streams: readonly (Pick<ScheduledStream, 'source' | 'runTimeoutMs'> & { readonly outbox?: OutboxTracking | undefined })[],
  options: SyncOnceOptions,
): Promise<{ failed: number }> {
  let failed = 0;
  const queue = [...streams];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const log = options.log.child({ stream: next.source.id });
      try {
        const result = await runStream({
          store: options.store,
          source: next.source,
          runTimeoutMs: next.runTimeoutMs,
          ...(next.outbox ? { outbox: next.outbox } : {}),
          http: options.http,
          log,
          signal: options.signal,
          requested: true,
          ...(options.owner ? { owner: options.owner } : {}),
        });
        log.info({ commits: result.commits, upserted: result.upserted, deleted: result.deleted }, 'sync finished');
      } catch (error) {
        failed += 1;
        log.error({ err: describeError(error) }, 'sync failed; cursor not advanced');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, streams.length) }, worker));
  return { failed };
}
