import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CliContext } from '../../src/cli/context.js';
import { resetCommand } from '../../src/cli/reset-command.js';
import { UsageError } from '../../src/cli/usage-error.js';
import type { DaemonConfig } from '../../src/config/schema.js';
import { initialState } from '../../src/core/sync-state.js';
import type { StreamSource } from '../../src/core/source.js';
import { createScrubber } from '../../src/daemon/secret-scrubber.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { pushTargetSchema, type PushTargetConfig } from '../../src/push/push-config.js';
import { drainTarget } from '../../src/push/pusher.js';
import { pushedStream, type PushedStream } from '../../src/push/pushed-stream.js';
import { startOdsSimulator, type OdsSimulator } from '../../src/simulators/ods/ods-simulator.js';
import { builtInKinds } from '../../src/sources/registry.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { SqliteStore as Sqlite } from '../../src/store/sqlite/sqlite-store.js';
import { memoryLogger } from '../helpers/silent-log.js';
import { tempSqliteStore } from '../helpers/stores.js';

let sim: OdsSimulator | undefined;
let cleanup: (() => Promise<void>) | undefined;
let http: UndiciHttpClient | undefined;

afterEach(async () => {
  await sim?.close();
  await cleanup?.();
  await http?.close();
  vi.restoreAllMocks();
});

async function setUp(withKey: boolean) {
  sim = await startOdsSimulator({
    automationKey: 'automation-secret',
    realtime: [{ dataset: 'readings', resource: 'realtime', pushKey: 'push-secret', fields: [{ name: 'sensor', type: 'text' }, { name: 'value', type: 'text' }], uniqueIds: ['sensor'] }],
  });
  const temp = await tempSqliteStore();
  cleanup = temp.cleanup;
  const store: SqliteStore = temp.store;
  const client = createHttpClient({ maxRetries: 1, retryBaseDelayMs: 5 });
  http = client;
  const origin = new URL(sim.pushUrl('readings')).origin;
  const config: PushTargetConfig = pushTargetSchema.parse({
    url: sim.pushUrl('readings'),
    uniqueId: ['sensor'],
    ...(withKey ? { automation: { apiKey: 'automation-secret', portal: origin } } : {}),
  });
  const source = { id: 'feed-stream', jobId: 'feed', kind: 'test', records: { relation: 'readings' }, read: () => (async function* () {})() } as StreamSource;
  const push = pushedStream(source, [config], () => 60_000) as PushedStream;
  await store.transaction(async (tx) => {
    await tx.apply([{ op: 'ensureTable', spec: { name: 'readings', columns: [{ name: 'sensor', type: 'text' }, { name: 'value', type: 'text' }], primaryKey: ['sensor'] } }]);
    await tx.apply([{ op: 'upsert', table: 'readings', columns: ['sensor', 'value'], rows: [['a', '1'], ['b', '2']] }], push.outbox);
    await tx.writeState({ ...initialState('feed-stream', 'feed', 'test'), cursor: { next: 'somewhere' } });
  });
  const { log } = memoryLogger();
  const target = push.targets[0] as PushedStream['targets'][number];
  await drainTarget(target, { store, http: client, log, signal: new AbortController().signal });
  expect(sim.push.count('readings')).toBe(2);
  const context = {
    loaded: { config: { jobs: [{ id: 'feed', kind: 'rpde', enabled: true, push: [config] }] } as unknown as DaemonConfig, secrets: ['automation-secret', 'push-secret'] },
    kinds: builtInKinds,
    log,
    scrub: createScrubber(['automation-secret', 'push-secret']),
    http: () => Promise.resolve(client),
    openStore: async () => {
      const reopened = new Sqlite({ path: temp.path });
      await reopened.open();
      return reopened;
    },
  } satisfies CliContext;
  await store.close();
  return { sim, context, target, path: temp.path, log };
}

describe('reset of a pushed stream', () => {
  it('empties the dataset through the Automation API (uid lookup, unpublish, idle, publish), then every record is pushed again', async () => {
    const t = await setUp(true);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    await resetCommand(t.context, 'feed-stream', { pollMs: 10 });
    const printed = out.mock.calls.map((call) => String(call[0])).join('');
    out.mockRestore();
    expect(printed).toMatch(/dataset .* emptied/);
    expect(printed).not.toContain('automation-secret');
    const operations = t.sim.automation.calls.map((call) => call.operation);
    expect(operations[0]).toBe('list');
    const unpublish = operations.indexOf('unpublish');
    const publish = operations.indexOf('publish');
    expect(unpublish).toBeGreaterThan(0);
    expect(publish).toBeGreaterThan(unpublish);
    // Waited for idle between the two, and after the publish.
    expect(operations.slice(unpublish + 1, publish)).toContain('status');
    expect(operations.at(-1)).toBe('status');
    expect(t.sim.push.count('readings')).toBe(0);
    const store = await t.context.openStore();
    try {
      expect((await store.readState('feed-stream'))?.cursor).toBeNull();
      expect((await store.outboxEntries(t.target.delivery.id, 10)).map((entry) => entry.scope)).toEqual([null]);
      await drainTarget(t.target, { store, http: await t.context.http(), log: t.log, signal: new AbortController().signal });
      expect(t.sim.push.count('readings')).toBe(2);
    } finally {
      await store.close();
    }
  });

  it('is refused without an Automation key, saying why, and changes nothing', async () => {
    const t = await setUp(false);
    const refusal = await resetCommand(t.context, 'feed-stream').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(UsageError);
    expect((refusal as Error).message).toMatch(/needs an Automation API key/);
    expect(t.sim.automation.calls).toEqual([]);
    expect(t.sim.push.count('readings')).toBe(2);
    const store = await t.context.openStore();
    try {
      expect((await store.readState('feed-stream'))?.cursor).toEqual({ next: 'somewhere' });
    } finally {
      await store.close();
    }
  });
});
