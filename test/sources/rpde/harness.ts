import { expect } from 'vitest';
import type { JsonValue } from '../../../src/core/json.js';
import type { HttpClient } from '../../../src/http/client.js';
import { runStream, type RunResult } from '../../../src/runner/run-stream.js';
import type { LiveItem } from '../../../src/simulators/rpde/rpde-feed.js';
import { RpdeFeedSource, type RpdeFeedSettings } from '../../../src/sources/rpde/rpde-source.js';
import type { Store } from '../../../src/store/store.js';
import { memoryLogger } from '../../helpers/silent-log.js';

/** A clock the test moves by hand: polling politeness, retention and resync all read it. */
export class TestClock {
  ms = Date.parse('2026-03-01T12:00:00.000Z');
  readonly now = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const MINUTE = 60_000;
export const DAY = 86_400_000;

export function feedSource(url: string, clock: TestClock, overrides: Partial<RpdeFeedSettings> = {}): RpdeFeedSource {
  return new RpdeFeedSource({
    id: 'rpde:test:session-series',
    jobId: 'test',
    feedUrl: url,
    table: 'test_session_series_items',
    pollIntervalMs: 8_000,
    retryAfterDefault: { minMs: 60 * MINUTE, maxMs: 120 * MINUTE },
    tombstoneRetentionMs: 7 * DAY,
    resyncAfterMs: 7 * DAY,
    allowedOrigins: [],
    now: clock.now,
    random: () => 0.5,
    ...overrides,
  });
}

/** One scheduled run of the stream, as the daemon does it. */
export function harvest(store: Store, source: RpdeFeedSource, http: HttpClient, signal = new AbortController().signal): Promise<RunResult> {
  return runStream({ store, source, http, log: memoryLogger('warn').log, signal });
}

export interface MirrorRow {
  readonly kind: string | null;
  readonly state: string;
  readonly modified: string;
  readonly data: JsonValue;
}

export async function mirrorRows(store: Store, table: string): Promise<Map<string, MirrorRow>> {
  const rows = await store.readTable(table);
  return new Map(
    rows.map((row) => [
      String(row['id']),
      {
        kind: row['kind'] === null ? null : String(row['kind']),
        state: String(row['state']),
        modified: String(row['modified_raw']),
        data: typeof row['data'] === 'string' ? (JSON.parse(row['data']) as JsonValue) : null,
      },
    ]),
  );
}

/** The live (`updated`) rows of the mirror must be exactly the publisher's live items. */
export async function expectMirrorOf(store: Store, table: string, live: Map<string, LiveItem>): Promise<void> {
  const rows = await mirrorRows(store, table);
  const mirrored = [...rows.entries()]
    .filter(([, row]) => row.state === 'updated')
    .map(([id, row]) => ({ id, kind: row.kind, modified: row.modified, data: row.data }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const expected = [...live.entries()]
    .map(([id, item]) => ({ id, kind: item.kind, modified: item.modified.toString(), data: item.data }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  expect(mirrored.length).toBe(expected.length);
  expect(mirrored).toEqual(expected);
}

/** The conformance counts in a stream's details, by check id. */
export async function conformanceCounts(store: Store, streamId: string): Promise<Record<string, number>> {
  const state = await store.readState(streamId);
  const details = state?.details;
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return {};
  const conformance = details['conformance'];
  if (typeof conformance !== 'object' || conformance === null || Array.isArray(conformance)) return {};
  return Object.fromEntries(
    Object.entries(conformance).map(([id, entry]) => [id, (entry as { count: number }).count]),
  );
}

export async function cursorOf(store: Store, streamId: string): Promise<Record<string, JsonValue> | null> {
  const cursor = (await store.readState(streamId))?.cursor;
  return typeof cursor === 'object' && cursor !== null && !Array.isArray(cursor) ? cursor : null;
}
