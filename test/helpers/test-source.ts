import { z } from 'zod';
import type { JsonValue } from '../../src/core/json.js';
import type { ChangeOp } from '../../src/core/ops.js';
import { defineSourceKind } from '../../src/core/source-kind.js';
import type { ReadContext, SourceEvent, StreamSource } from '../../src/core/source.js';
import type { TableSpec } from '../../src/core/tables.js';

export const ITEMS: TableSpec = {
  name: 'items',
  columns: [
    { name: 'id', type: 'integer' },
    { name: 'value', type: 'text' },
  ],
  primaryKey: ['id'],
};

export interface TestSourceScript {
  /** Number of commit units per run; each upserts `rowsPerUnit` rows and checkpoints cursor {n}. */
  units: number;
  rowsPerUnit?: number;
  /** Throw after yielding the changes of this unit (0-based), before its checkpoint. */
  failInUnit?: number;
  failWith?: () => Error;
  /** Before each unit, wait this long (ms), honouring the abort signal. */
  unitDelayMs?: number;
  /**
   * Ask for each unit's counts (`onApplied`), so the runner applies its rows at once in an open
   * transaction instead of buffering them until the checkpoint, as it does for a unit larger than
   * its buffer: `failInUnit` and `delayInUnitMs` then happen while that transaction is open.
   */
  inTransaction?: boolean;
  /** After each unit's changes, before its checkpoint, wait this long (ms), honouring the abort signal. */
  delayInUnitMs?: number;
  /** Called when a run starts and ends, for overlap checks. */
  onStart?: () => void;
  onEnd?: () => void;
}

/**
 * A source with a scripted behaviour, for runner and daemon tests: each run continues from its
 * committed cursor {n}, writes rows `n*rowsPerUnit ...` tagged with the unit number, and
 * checkpoints {n: n+1}.
 */
export class TestSource implements StreamSource {
  readonly kind = 'test';
  runs = 0;
  /** Units whose rows the store reported applied (with `inTransaction`), committed or not. */
  readonly appliedUnits: number[] = [];

  constructor(
    readonly id: string,
    readonly jobId: string,
    public script: TestSourceScript,
  ) {}

  async *read(ctx: ReadContext): AsyncIterable<SourceEvent> {
    this.runs += 1;
    this.script.onStart?.();
    try {
      const start = typeof ctx.cursor === 'object' && ctx.cursor !== null && 'n' in ctx.cursor ? Number(ctx.cursor.n) : 0;
      yield { type: 'changes', ops: [{ op: 'ensureTable', spec: ITEMS }] };
      for (let unit = 0; unit < this.script.units; unit += 1) {
        if (this.script.unitDelayMs) await sleep(this.script.unitDelayMs, ctx.signal);
        ctx.signal.throwIfAborted();
        const n = start + unit;
        const rowsPerUnit = this.script.rowsPerUnit ?? 3;
        const ops: ChangeOp[] = [
          {
            op: 'upsert',
            table: 'items',
            columns: ['id', 'value'],
            rows: Array.from({ length: rowsPerUnit }, (_, i) => [n * rowsPerUnit + i, `unit ${n}`]),
          },
        ];
        yield this.script.inTransaction
          ? { type: 'changes', ops, onApplied: () => this.appliedUnits.push(n) }
          : { type: 'changes', ops };
        if (this.script.delayInUnitMs) await sleep(this.script.delayInUnitMs, ctx.signal);
        if (this.script.failInUnit === unit) throw this.script.failWith?.() ?? new Error(`scripted failure in unit ${unit}`);
        const cursor: JsonValue = { n: n + 1 };
        yield { type: 'checkpoint', cursor };
      }
    } finally {
      this.script.onEnd?.();
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error('aborted', { cause: reason });
}

/** A `test` job kind whose streams are TestSources (`streams` of them, all with one script). */
export function testKind(script: TestSourceScript, created: TestSource[] = []) {
  return defineSourceKind({
    kind: 'test',
    options: z.strictObject({ streams: z.number().int().min(1).default(1), token: z.string().optional() }),
    // Every test stream writes `items` on purpose (tests of several jobs check what each wrote by
    // its unit tag), so test jobs claim no table and are never refused for sharing it.
    tables: () => [],
    expand(job, options) {
      const sources = Array.from({ length: options.streams }, (_, i) => {
        const source = new TestSource(`test:${job.id}:${i}`, job.id, { ...script });
        created.push(source);
        return source;
      });
      return Promise.resolve(sources);
    },
  });
}
