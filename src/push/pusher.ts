import type { Logger } from 'pino';
import type { HttpClient } from '../http/client.js';
import type { DeliveryShape, RecordDifference, RecordRow, TargetState } from '../store/delivery.js';
import type { LeaseFence, Store } from '../store/store.js';
import { PushClient, PushRefusedError, type PushOperation } from './push-client.js';
import type { PushTarget } from './pushed-stream.js';
import { batches, keyText } from './record-json.js';

/** "Realtime push requests are limited to a 5MB payload": bodies stay under 5,000,000 bytes, the stricter reading. */
export const MAX_PUSH_BYTES = 5_000_000;

/** Outbox entries compared at once. */
const ENTRIES_PER_ROUND = 500;
/** Differences read per query. */
const PAGE = 5_000;
/** Set-aside records remembered for status. */
const SET_ASIDE_SHOWN = 20;

export interface DrainOptions {
  readonly store: Store;
  readonly http: HttpClient;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly maxBytes?: number;
  readonly now?: () => Date;
  /** The stream's lease the drain holds: its delivery writes are refused once a later lease was taken. */
  readonly lease?: LeaseFence;
}

export interface DrainResult {
  /** Records written or deleted at the target. */
  readonly delivered: number;
  /** Outbox entries left (0 when everything was delivered). */
  readonly remaining: number;
  readonly setAside: number;
}

/** A drain that stopped on an error; the outbox keeps what was not delivered. */
export class DrainError extends Error {
  constructor(
    readonly target: string,
    readonly refused: boolean,
    cause: unknown,
  ) {
    super(`push to ${target}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'DrainError';
  }
}

/**
 * Delivers a target's outbox, oldest entries first: within the entries' scopes the store compares
 * the records with what was delivered (store/delivery.ts), then records removed at the source are
 * deleted with the exact values last delivered, and new or changed records are pushed (on a dataset
 * without Unique ID fields, a changed record's old values are deleted first, or ODS would keep both).
 * Before each request (push or delete) its records are written to the delivered state as
 * uncertain, and each acknowledged request updates the delivered state at once; entries go only
 * once everything in their scopes is delivered. A push ODS applied without our knowing (the answer lost, the daemon
 * killed before recording it) thus stays known: an uncertain record counts as changed, so the next
 * drain deletes the values sent (ODS may hold them) before pushing the current ones, or, when they
 * are still the current ones, pushes them again. A crash anywhere re-sends at most the requests not
 * acknowledged, which is harmless. Call it with the stream's lease held (it must not overlap
 * another drain of the target).
 */
export async function drainTarget(target: PushTarget, options: DrainOptions): Promise<DrainResult> {
  const { store, log, signal } = options;
  const now = options.now ?? (() => new Date());
  const maxBytes = options.maxBytes ?? MAX_PUSH_BYTES;
  const client = new PushClient(target.config.url, options.http);
  const { delivery } = target;
  const state = await targetState(store, target);
  let delivered = 0;
  let hadWork = false;
  const setAside: { row: RecordRow; text: string }[] = [];
  try {
    if (state.restartPending) throw new PushRefusedError(0, 'a reset of this stream was interrupted before the dataset was emptied; run `reset` again');
    let shape: DeliveryShape | undefined;
    for (;;) {
      signal.throwIfAborted();
      const entries = await store.outboxEntries(delivery.id, ENTRIES_PER_ROUND);
      if (entries.length === 0) break;
      hadWork = true;
      shape ??= await store.prepareDelivery(delivery);
      checkUniqueIds(target, shape);
      const scopes = entries.map((entry) => entry.scope);
      const exclude = () => setAside.map((item) => item.row);
      const send = async (operation: PushOperation, rows: readonly RecordRow[], acknowledged: (rows: readonly RecordRow[]) => Promise<void>) => {
        const grouped = batches(shape as DeliveryShape, rows, maxBytes);
        for (const { row, bytes } of grouped.oversize) {
          const text = `${keyText(shape as DeliveryShape, row)}: ${bytes} bytes, more than one push request may carry (${maxBytes}); not ${operation === 'push' ? 'pushed' : 'deleted'}`;
          log.error({ target: delivery.id, record: keyText(shape as DeliveryShape, row), bytes }, 'record too big for the Push API; set aside');
          setAside.push({ row, text });
        }
        for (const batch of grouped.batches) {
          // Deletes are marked too: a delete ODS applied without an answer leaves the delivered
          // values in place, and were the record to come back with those values, it would look
          // delivered and never be pushed again. Uncertain, it is (deleted again if it stays gone:
          // ODS answers OK for values it no longer holds).
          await store.markUncertain(delivery, shape as DeliveryShape, batch.rows, options.lease);
          await client.send(operation, batch.body, signal);
          await acknowledged(batch.rows);
          delivered += batch.rows.length;
        }
      };
      const guard = new RepeatGuard(shape);
      // Records gone at the source: deleted by the values last delivered.
      for (;;) {
        const page = await store.differences(delivery, shape, { scopes, which: 'removed', limit: PAGE, exclude: exclude() });
        if (page.length === 0) break;
        guard.check(page);
        const rows = page.map((difference) => difference.delivered as RecordRow);
        await send('delete', rows, (done) => store.markDelivered(delivery, shape as DeliveryShape, { written: [], removed: done }, options.lease));
      }
      for (;;) {
        const page = await store.differences(delivery, shape, { scopes, which: 'changed', limit: PAGE, exclude: exclude() });
        if (page.length === 0) break;
        guard.check(page);
        if (target.config.uniqueId === undefined) {
          // Values sent but never acknowledged that are still the current ones are not deleted:
          // pushing them again gives the same record.
          const old = page.flatMap((difference) => (difference.delivered && difference.sameValues !== true ? [difference.delivered] : []));
          await send('delete', old, (done) => store.markDelivered(delivery, shape as DeliveryShape, { written: [], removed: done }, options.lease));
        }
        // Only records whose old values are gone (or that have a Unique ID) are pushed now.
        const ready = page.filter((difference) => target.config.uniqueId !== undefined || !difference.delivered || !setAside.some((item) => sameKey(shape as DeliveryShape, item.row, difference.delivered as RecordRow)));
        await send(
          'push',
          ready.map((difference) => difference.current as RecordRow),
          (done) => store.markDelivered(delivery, shape as DeliveryShape, { written: done, removed: [] }, options.lease),
        );
      }
      await store.removeOutboxEntries(delivery.id, entries.map((entry) => entry.seq), options.lease);
    }
    const remaining = (await store.outboxSummaries()).find((summary) => summary.target === delivery.id)?.depth ?? 0;
    await store.writeTargetState({
      ...state,
      // A target that was never in step is not made so by an empty outbox: it stays "never" until
      // a first delivery, so an operator is not told of a success that did not happen.
      lastSuccessAt: hadWork || state.lastSuccessAt !== null ? now().toISOString() : null,
      lastError: null,
      consecutiveFailures: 0,
      setAside: [...setAside.map((item) => item.text), ...(setAside.length > 0 ? [] : state.setAside)].slice(0, SET_ASIDE_SHOWN),
    });
    if (delivered > 0) log.info({ target: delivery.id, delivered, setAside: setAside.length }, 'pushed');
    return { delivered, remaining, setAside: setAside.length };
  } catch (error) {
    if (signal.aborted) throw error;
    const refused = error instanceof PushRefusedError || (error instanceof Error && error.name === 'DeliveryShapeError');
    const failure = new DrainError(delivery.id, refused, error);
    await store
      .writeTargetState({
        ...state,
        lastError: failure.message,
        lastErrorAt: now().toISOString(),
        consecutiveFailures: state.consecutiveFailures + 1,
        setAside: [...setAside.map((item) => item.text), ...state.setAside].slice(0, SET_ASIDE_SHOWN),
      })
      .catch((stateError: unknown) => log.error({ err: String(stateError) }, 'could not record the push failure'));
    throw failure;
  }
}

/** The target's bookkeeping, or a fresh one. */
export async function targetState(store: Store, target: PushTarget): Promise<TargetState> {
  const found = (await store.targetStates()).find((state) => state.target === target.delivery.id);
  return (
    found ?? {
      target: target.delivery.id,
      streamId: target.delivery.streamId,
      lastSuccessAt: null,
      lastError: null,
      lastErrorAt: null,
      consecutiveFailures: 0,
      delivered: 0,
      setAside: [],
      restartPending: false,
    }
  );
}

/**
 * With Unique ID fields, ODS keeps one record per value of those fields: they must be exactly the
 * record key, or two records of the mirror would overwrite each other there.
 */
function checkUniqueIds(target: PushTarget, shape: DeliveryShape): void {
  const unique = target.config.uniqueId;
  if (unique === undefined) return;
  const key = [...shape.key].sort();
  const given = [...unique].sort();
  const fields = new Set(shape.fields.map((field) => field.name));
  if (key.join('\u0000') !== given.join('\u0000') || !key.every((name) => fields.has(name))) {
    throw new PushRefusedError(0, `uniqueId (${unique.join(', ')}) must be the fields that identify a record: ${shape.key.join(', ')}`);
  }
}

function sameKey(shape: DeliveryShape, a: RecordRow, b: RecordRow): boolean {
  return shape.key.every((name) => a[name] === b[name]);
}

/**
 * A record delivered and acknowledged compares equal to what the store holds; one that comes back
 * page after page never does (a value the delivered state cannot hold as read), and would be sent
 * forever. A few repeats are allowed: a sync may change a record while it is being delivered.
 */
class RepeatGuard {
  private previous = new Set<string>();
  private repeats = 0;

  constructor(private readonly shape: DeliveryShape) {}

  check(page: readonly RecordDifference[]): void {
    const keys = page.map((difference) => keyText(this.shape, (difference.current ?? difference.delivered) as RecordRow));
    const again = keys.find((key) => this.previous.has(key));
    if (again !== undefined && ++this.repeats > 3) throw new Error(`record ${again} still differs from what was delivered after being delivered; not retried`);
    this.previous = new Set(keys);
  }
}
