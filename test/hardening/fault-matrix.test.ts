import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/core/json.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { runStream, StreamRunError } from '../../src/runner/run-stream.js';
import type { ProxyFault } from '../../src/simulators/fault-proxy/proxy-faults.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from '../helpers/silent-log.js';
import { tempSqliteStore } from '../helpers/stores.js';
import { startTestbed, TESTBED_KINDS, type Testbed, type TestbedKind } from '../helpers/testbeds.js';

/**
 * Every fault the proxy can inject, against every kind of source, each behind the fault proxy: a
 * run either fails cleanly (an error naming the stream, the mirror and the cursor as they were) or
 * gets through as designed (a retry, a patient read) and mirrors the source exactly; and once the
 * faults stop, the next run converges.
 */

interface FaultCase {
  readonly name: string;
  readonly fault: ProxyFault;
  /** Consecutive answers spoilt (default 1). */
  readonly times?: number;
  readonly outcome: 'fails' | 'succeeds';
  /** Kinds whose own rules give another outcome (RPDE and ODS read 503/429 as "come back later"). */
  readonly except?: Partial<Record<TestbedKind, 'fails' | 'succeeds'>>;
  /** Kinds whose failure must carry the wait before the next attempt (Retry-After, in ms), for the scheduler. */
  readonly retryAfterMs?: { readonly kinds: readonly TestbedKind[]; readonly ms: number | 'any' };
}

// The client of these runs: two retries, short waits, and a body timeout a stall outlasts.
const RETRIES = 2;
const BODY_TIMEOUT_MS = 1_000;

const CASES: readonly FaultCase[] = [
  // 100 bytes: past an SDMX-CSV header line, inside the first row or JSON object.
  { name: 'a body cut short of its Content-Length', fault: { type: 'cut', afterBytes: 100, framing: 'content-length', plain: true }, outcome: 'fails' },
  { name: 'a chunked body cut before its last chunk', fault: { type: 'cut', afterBytes: 100, framing: 'chunked', plain: true }, outcome: 'fails' },
  { name: 'a close-delimited body cut mid-row (a clean close)', fault: { type: 'cut', afterBytes: 100, framing: 'close', plain: true }, outcome: 'fails' },
  { name: 'a gzip body cut mid-stream', fault: { type: 'cut', afterBytes: 30, framing: 'close' }, outcome: 'fails' },
  { name: 'a body that stalls for good', fault: { type: 'stall', afterBytes: 100 }, outcome: 'fails' },
  { name: 'a body that stalls for less than the body timeout', fault: { type: 'stall', afterBytes: 100, ms: 300 }, outcome: 'succeeds' },
  { name: 'a reset before the answer, once', fault: { type: 'reset' }, outcome: 'succeeds' },
  { name: 'a reset before the answer, on every retry', fault: { type: 'reset' }, times: RETRIES + 1, outcome: 'fails' },
  { name: 'a reset mid-body', fault: { type: 'reset', afterBytes: 100 }, outcome: 'fails' },
  ...[500, 502, 503].flatMap((status): FaultCase[] => [
    {
      name: `a burst of ${status}s shorter than the retries, with Retry-After`,
      fault: { type: 'status', status, retryAfter: '0' },
      times: RETRIES,
      outcome: 'succeeds',
      // RPDE §5.1.4: a 503 means "come back after Retry-After", which the stream does at its next run.
      ...(status === 503 ? { except: { rpde: 'fails' as const }, retryAfterMs: { kinds: ['rpde' as const], ms: 0 } } : {}),
    },
    { name: `a burst of ${status}s longer than the retries, without Retry-After`, fault: { type: 'status', status }, times: RETRIES + 1, outcome: 'fails' },
  ]),
  {
    name: 'a 503 whose Retry-After is longer than the client waits',
    fault: { type: 'status', status: 503, retryAfter: '3600' },
    outcome: 'fails',
    retryAfterMs: { kinds: TESTBED_KINDS, ms: 3_600_000 },
  },
  {
    name: 'a burst of 429s longer than the retries, with Retry-After',
    fault: { type: 'status', status: 429, retryAfter: '0' },
    times: RETRIES + 1,
    outcome: 'fails',
    // RPDE and ODS wait for the quota (ODS: until its reset, an hour when the portal does not say).
    retryAfterMs: { kinds: ['rpde', 'ods-catalog', 'ods-records'], ms: 'any' },
  },
  { name: 'an HTML page with status 200', fault: { type: 'html' }, outcome: 'fails' },
  { name: 'a slow first byte', fault: { type: 'slowFirstByte', ms: 300 }, outcome: 'succeeds' },
];

const TIMEOUT = 30_000;

function faultsApplied(bed: Testbed): number {
  return Object.values(bed.proxy.faults.counts()).reduce((sum, count) => sum + count, 0);
}

for (const kind of TESTBED_KINDS) {
  describe(`${kind} behind the fault proxy`, () => {
    let bed: Testbed;
    let store: SqliteStore;
    let cleanup: () => Promise<void>;
    let http: UndiciHttpClient;
    let round = 0;
    const { log } = memoryLogger('silent');
    const run = () => runStream({ store, source: bed.source, http, log, signal: new AbortController().signal, requested: true });

    beforeAll(async () => {
      bed = await startTestbed(kind);
      ({ store, cleanup } = await tempSqliteStore());
      http = createHttpClient({ maxRetries: RETRIES, retryBaseDelayMs: 10, maxRetryDelayMs: 2_000, bodyTimeoutMs: BODY_TIMEOUT_MS, headersTimeoutMs: 5_000 });
      await run();
      expect(await bed.mirrored(store)).toEqual(bed.expected());
    });
    afterAll(async () => {
      await http.close();
      await cleanup();
      await bed.close();
    });

    for (const testCase of CASES) {
      const expected = testCase.except?.[kind] ?? testCase.outcome;
      it(`${testCase.name}: the run ${expected === 'fails' ? 'fails cleanly, nothing applied' : 'gets through'}, then converges`, async () => {
        bed.change((round += 1));
        const mirrorBefore = await bed.mirrored(store);
        const cursorBefore: JsonValue | undefined = (await store.readState(bed.streamId))?.cursor;
        const appliedBefore = faultsApplied(bed);
        bed.proxy.inject(testCase.fault, { match: bed.dataRequests, times: testCase.times ?? 1 });
        const outcome = await run().then(
          () => 'succeeded' as const,
          (error: unknown) => error,
        );
        const hits = faultsApplied(bed) - appliedBefore;
        bed.proxy.faults.clear();
        // The fault must have hit the run, or the case proves nothing.
        expect(hits, 'the fault never hit the run').toBeGreaterThan(0);
        if (expected === 'succeeds') {
          expect(outcome).toBe('succeeded');
          expect(await bed.mirrored(store)).toEqual(bed.expected());
        } else {
          expect(outcome).toBeInstanceOf(StreamRunError);
          const message = (outcome as StreamRunError).message;
          expect(message.startsWith(`stream ${bed.streamId}: `), message).toBe(true);
          // An error that says what happened, not a crash of the code reading the answer.
          expect(message).not.toMatch(/TypeError|ReferenceError|Cannot read properties|is not a function|\[object Object\]|undefined$/);
          expect(await bed.mirrored(store)).toEqual(mirrorBefore);
          expect((await store.readState(bed.streamId))?.cursor).toEqual(cursorBefore);
          const wait = testCase.retryAfterMs;
          if (wait !== undefined && wait.kinds.includes(kind)) {
            const after = (outcome as StreamRunError).retryAfterMs;
            if (wait.ms === 'any') expect(after).toBeGreaterThanOrEqual(0);
            else expect(after).toBe(wait.ms);
          }
        }
        await run();
        expect(await bed.mirrored(store)).toEqual(bed.expected());
      }, TIMEOUT);
    }
  });
}
