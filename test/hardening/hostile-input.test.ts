import { parse as parseCsv } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/core/json.js';
import type { StreamSource } from '../../src/core/source.js';
import { createHttpClient, type UndiciHttpClient } from '../../src/http/undici-client.js';
import { runStream, StreamRunError } from '../../src/runner/run-stream.js';
import { csvCell } from '../../src/simulators/nsi/csv-text.js';
import type { OdsField, OdsFieldType, RecordValues } from '../../src/simulators/ods/portal-data.js';
import { startOdsSimulator } from '../../src/simulators/ods/ods-simulator.js';
import { OdsRecordsSource } from '../../src/sources/ods/records-source.js';
import { RpdeFeedSource } from '../../src/sources/rpde/rpde-source.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { StoreSchemaError, type Store } from '../../src/store/store.js';
import { PG_URL, dropSchemas, postgresRequired, postgresUnavailable, randomSchemaName } from '../helpers/pg.js';
import { memoryLogger } from '../helpers/silent-log.js';
import { tempSqliteStore } from '../helpers/stores.js';
import { startTestbed } from '../helpers/testbeds.js';
import { mirrorRows, portalRows } from '../../src/simulators/ods/mirror-rows.js';

/**
 * Hostile input, property-based (issue 11): random and adversarial SDMX-CSV answers, RPDE pages
 * and Opendatasoft records and catalog answers, served through the fault proxy in place of the
 * real ones, on SQLite and on PostgreSQL. Whatever arrives, the run never crashes (it succeeds or
 * fails with a StreamRunError that names the stream and says what was wrong), a failed run
 * applies nothing and keeps its cursor, a run that gets through applies only whole rows, and a
 * remote identifier never escapes its quoting: a canary table `y` and the store's own state
 * survive every `x"; DROP TABLE y; --`. HOSTILE_RUNS sets the number of inputs per property.
 */

const RUNS = Number(process.env['HOSTILE_RUNS'] ?? 60);
const { log } = memoryLogger('silent');
const INJECTIONS = ['x"; DROP TABLE y; --', "x'; DROP TABLE y; --", 'y"--', '"', '""', 'a]b', 'x`y', 'sync_state', 'dss_tables', 'Robert"); DROP TABLE y;--'];
const CANARY = { op: 'upsert' as const, table: 'y', columns: ['k', 'v'], rows: [['canary', 'alive']] };
const stats = { inputs: 0, failed: 0 };

interface EngineUnderTest {
  readonly name: string;
  open(): Promise<{ store: Store; close: () => Promise<void> }>;
}

const unavailable = await postgresUnavailable();
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));
const engines: EngineUnderTest[] = [
  {
    name: 'SQLite',
    open: async () => {
      const { store, cleanup } = await tempSqliteStore();
      return { store, close: cleanup };
    },
  },
];
if (unavailable === undefined) {
  engines.push({
    name: 'PostgreSQL',
    open: async () => {
      const schema = randomSchemaName('dss_hostile');
      schemas.push(schema);
      const store = new PostgresStore({ url: PG_URL, schema });
      await store.open();
      return { store, close: () => store.close() };
    },
  });
} else if (postgresRequired()) {
  throw new Error(`${unavailable}; CI=true requires the PostgreSQL tests to run`);
}

/** What a describe of one engine works with: its fixture (a testbed, a simulator), a store with the canary planted, an HTTP client. */
interface OnEngine<F> {
  readonly fixture: F;
  readonly store: Store;
  readonly http: UndiciHttpClient;
}

/** Opens what a describe of `engine` works with before its tests, and closes it after them. */
function onEngine<F extends { close(): Promise<void> }>(engine: EngineUnderTest, start: () => Promise<F>): OnEngine<F> {
  const held = {} as { fixture: F; store: Store; http: UndiciHttpClient };
  let close: () => Promise<void>;
  beforeAll(async () => {
    held.fixture = await start();
    ({ store: held.store, close } = await engine.open());
    await plantCanary(held.store);
    held.http = createHttpClient({ maxRetries: 0, bodyTimeoutMs: 5_000 });
  });
  afterAll(async () => {
    await held.http.close();
    await close();
    await held.fixture.close();
  });
  return held;
}

/** What a run gives: nothing (it got through) or its error, which must be a StreamRunError saying what went wrong. */
async function runOnce(store: Store, source: StreamSource, http: UndiciHttpClient): Promise<StreamRunError | undefined> {
  stats.inputs += 1;
  const outcome = await runStream({ store, source, http, log, signal: new AbortController().signal, requested: true }).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (outcome === undefined) return undefined;
  stats.failed += 1;
  expect(outcome).toBeInstanceOf(StreamRunError);
  const message = (outcome as StreamRunError).message;
  expect(message.startsWith(`stream ${source.id}: `), message).toBe(true);
  expect(message).not.toMatch(/TypeError|ReferenceError|RangeError: Maximum call stack|Cannot read properties|is not a function|\[object Object\]/);
  return outcome as StreamRunError;
}

async function expectCanary(store: Store): Promise<void> {
  expect(await store.readTable('y')).toEqual([{ k: 'canary', v: 'alive' }]);
}

async function plantCanary(store: Store): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.apply([{ op: 'ensureTable', spec: { name: 'y', columns: [{ name: 'k', type: 'text', nullable: false }, { name: 'v', type: 'text', nullable: true }], primaryKey: ['k'] } }, CANARY]);
  });
}

async function cursorOf(store: Store, streamId: string): Promise<JsonValue> {
  return (await store.readState(streamId))?.cursor ?? null;
}

// ---------------------------------------------------------------------------------------------
// SDMX-CSV

type CsvMutation =
  | { readonly kind: 'bom' }
  | { readonly kind: 'cell'; readonly row: number; readonly col: number; readonly value: string; readonly quoted: boolean }
  | { readonly kind: 'dropCell'; readonly row: number }
  | { readonly kind: 'addCell'; readonly row: number; readonly value: string }
  | { readonly kind: 'header'; readonly col: number; readonly value: string }
  | { readonly kind: 'truncate'; readonly fraction: number }
  | { readonly kind: 'lineEnding'; readonly ending: '\r\n' | '\r' }
  | { readonly kind: 'delimiter'; readonly delimiter: ';' | '\t' }
  | { readonly kind: 'hugeCell'; readonly row: number; readonly col: number; readonly size: number }
  | { readonly kind: 'blankLines' }
  | { readonly kind: 'invalidUtf8'; readonly fraction: number };

const hostileText = fc.oneof(
  fc.constantFrom(...INJECTIONS, '', ' ', '\n', '\r\n', ',', ';', '\uFEFF', '\u0000', 'NaN', '#N/A', '1e309', '-0', 'R', 'D', 'X'),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const csvMutation: fc.Arbitrary<CsvMutation> = fc.oneof(
  fc.constant({ kind: 'bom' as const }),
  fc.record({ kind: fc.constant('cell' as const), row: fc.nat(20), col: fc.nat(12), value: hostileText, quoted: fc.boolean() }),
  fc.record({ kind: fc.constant('dropCell' as const), row: fc.nat(20) }),
  fc.record({ kind: fc.constant('addCell' as const), row: fc.nat(20), value: hostileText }),
  fc.record({ kind: fc.constant('header' as const), col: fc.nat(12), value: hostileText }),
  fc.record({ kind: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('lineEnding' as const), ending: fc.constantFrom('\r\n' as const, '\r' as const) }),
  fc.record({ kind: fc.constant('delimiter' as const), delimiter: fc.constantFrom(';' as const, '\t' as const) }),
  fc.record({ kind: fc.constant('hugeCell' as const), row: fc.nat(20), col: fc.nat(12), size: fc.integer({ min: 10_000, max: 2_000_000 }) }),
  fc.constant({ kind: 'blankLines' as const }),
  fc.record({ kind: fc.constant('invalidUtf8' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
);

/** The answer's rows as cells (parsed by hand: the simulator quotes only what needs it, and its base answer has no quotes). */
function mutateCsv(base: string, mutations: readonly CsvMutation[]): Buffer {
  const lines = base.split('\n').filter((line) => line !== '');
  const rows = lines.map((line) => line.split(','));
  let delimiter = ',';
  let ending = '\n';
  let bom = false;
  let blank = false;
  let truncate: number | undefined;
  let invalid: number | undefined;
  const at = <T>(items: readonly T[], index: number): number => (items.length === 0 ? 0 : index % items.length);
  for (const m of mutations) {
    const row = rows[at(rows, 'row' in m ? m.row + 1 : 0)] ?? [];
    switch (m.kind) {
      case 'bom':
        bom = true;
        break;
      case 'cell':
        row[at(row, m.col)] = m.quoted ? csvCell(m.value) : m.value;
        break;
      case 'dropCell':
        row.pop();
        break;
      case 'addCell':
        row.push(csvCell(m.value));
        break;
      case 'header': {
        const header = rows[0] ?? [];
        header[at(header, m.col)] = csvCell(m.value);
        break;
      }
      case 'truncate':
        truncate = m.fraction;
        break;
      case 'lineEnding':
        ending = m.ending;
        break;
      case 'delimiter':
        delimiter = m.delimiter;
        break;
      case 'hugeCell':
        row[at(row, m.col)] = 'x'.repeat(m.size);
        break;
      case 'blankLines':
        blank = true;
        break;
      case 'invalidUtf8':
        invalid = m.fraction;
        break;
    }
  }
  let text = rows.map((cells) => cells.join(delimiter)).join(blank ? `${ending}${ending}` : ending) + ending;
  if (bom) text = `\uFEFF${text}`;
  if (truncate !== undefined) text = text.slice(0, Math.floor(text.length * truncate));
  const bytes = Buffer.from(text, 'utf8');
  if (invalid === undefined || bytes.length === 0) return bytes;
  const index = Math.min(bytes.length - 1, Math.floor(bytes.length * invalid));
  return Buffer.concat([bytes.subarray(0, index), Buffer.from([0xff, 0xfe, 0xc0]), bytes.subarray(index)]);
}

/** Every cell of a CSV text as an independent parser reads it; undefined when it is not well-formed CSV. */
function cellsOf(body: Buffer, delimiter: string): Set<string> | undefined {
  try {
    const records: unknown = parseCsv(body, { bom: true, relax_column_count: true, delimiter });
    return new Set((records as string[][]).flat());
  } catch {
    return undefined;
  }
}

for (const engine of engines) {
  describe(`hostile SDMX-CSV answers on ${engine.name}`, () => {
    const on = onEngine(engine, () => startTestbed('sdmx', 'hostile_sdmx'));
    let round = 0;
    beforeAll(async () => {
      expect(await runOnce(on.store, on.fixture.source, on.http)).toBeUndefined();
    });

    it('never crash, never apply a partial row, never let an identifier out of its quotes', async () => {
      const { fixture: bed, store, http } = on;
      await fc.assert(
        fc.asyncProperty(fc.array(csvMutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
          bed.change((round += 1));
          // The real answer to this run's query, then spoilt.
          const cursor = await cursorOf(store, bed.streamId);
          const since = (cursor as { updatedAfter?: string } | null)?.updatedAfter ?? '2000-01-01T00:00:00Z';
          const real = await fetch(`${bed.proxy.origin}/rest/data/HARD,DF_HOSTILE_SDMX,1.0/all?updatedAfter=${encodeURIComponent(since)}`, {
            headers: { accept: 'application/vnd.sdmx.data+csv;version=2.0.0' },
          });
          const base = real.status === 200 ? await real.text() : '';
          const body = mutateCsv(base, mutations);
          const before = await bed.mirrored(store);
          bed.proxy.inject({ type: 'replace', contentType: 'application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8', body }, { match: bed.dataRequests });
          const failure = await runOnce(store, bed.source, http);
          bed.proxy.faults.clear();
          if (failure !== undefined) {
            expect(await bed.mirrored(store), failure.message).toEqual(before);
            expect(await cursorOf(store, bed.streamId)).toEqual(cursor);
          } else {
            // Got through: every cell of every row it added or changed is a whole cell of the answer.
            const delimiter = mutations.reduce((current, m) => (m.kind === 'delimiter' ? m.delimiter : current), ',');
            const cells = cellsOf(body, delimiter);
            const after = (await bed.mirrored(store)) as { observations: { key: string[]; values: Record<string, string> }[] };
            const previous = new Set(((before as typeof after | undefined)?.observations ?? []).map((entry) => JSON.stringify(entry)));
            for (const entry of after.observations.filter((candidate) => !previous.has(JSON.stringify(candidate)))) {
              for (const cell of [...entry.key, ...Object.values(entry.values)]) {
                if (cells !== undefined) expect(cells.has(cell), `${cell.slice(0, 80)} is not a whole cell of the answer`).toBe(true);
                else expect(body.toString('utf8').includes(cell)).toBe(true);
              }
            }
          }
          await expectCanary(store);
        }),
        { numRuns: RUNS },
      );
    });

    it('refuses a structure whose identifiers would break out of their quotes, naming the identifier', async () => {
      const { fixture: bed, store, http } = on;
      const structureAccept = 'application/vnd.sdmx.structure+json;version=1.0';
      const path = '/rest/dataflow/HARD/DF_HOSTILE_SDMX/1.0?references=all';
      const real = await (await fetch(`${bed.proxy.origin}${path}`, { headers: { accept: structureAccept } })).text();
      expect(real).toContain('"REF_AREA"');
      for (const injection of INJECTIONS) {
        const hostile = real.replaceAll('"REF_AREA"', JSON.stringify(injection));
        const before = await bed.mirrored(store);
        const cursor = await cursorOf(store, bed.streamId);
        bed.change((round += 1));
        bed.proxy.inject({ type: 'replace', contentType: 'application/vnd.sdmx.structure+json; version=1.0; charset=utf-8', body: hostile }, { match: /\/dataflow\//, times: Infinity });
        const failure = await runOnce(store, bed.source, http);
        bed.proxy.faults.clear();
        // Either refused, or the identifier was taken only where it is harmless (it is then never a column).
        if (failure !== undefined) {
          expect(await bed.mirrored(store)).toEqual(before);
          expect(await cursorOf(store, bed.streamId)).toEqual(cursor);
        }
        await expectCanary(store);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// RPDE

/** A JSON value written as text, so integers past 2^64 and deep nesting reach the wire as they are. */
const deepData = fc.constantFrom(...(process.env['HOSTILE_DEPTHS'] ?? '2,50,1000,5000,100000').split(',').map(Number)).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
const rpdeScalar = fc.oneof(
  fc.constantFrom('18446744073709551616', '99999999999999999999999999', '-1', '1.5', '1e400', 'true', 'null', '"12"', '[]', '{}', '""'),
  fc.bigInt({ min: 0n, max: 1n << 70n }).map(String),
  hostileText.map((text) => JSON.stringify(text)),
);
const rpdeItem = fc.record({
  state: fc.oneof(fc.constantFrom('"updated"', '"deleted"'), rpdeScalar),
  kind: fc.option(fc.oneof(fc.constant('"SessionSeries"'), rpdeScalar), { nil: undefined }),
  id: fc.oneof(fc.string({ minLength: 1, maxLength: 8 }).map((id) => JSON.stringify(id)), fc.constantFrom(...INJECTIONS.map((text) => JSON.stringify(text))), rpdeScalar),
  modified: fc.oneof(fc.bigInt({ min: 0n, max: 1n << 70n }).map(String), rpdeScalar),
  data: fc.option(fc.oneof(fc.constant('{"name":"ok"}'), deepData, rpdeScalar), { nil: undefined }),
});
const rpdePage = fc.record({
  items: fc.array(rpdeItem, { maxLength: 6 }),
  next: fc.oneof(fc.constant('self'), fc.constant('missing'), rpdeScalar),
});

/** The feed's table as stored, `data` left as its text: a deeply nested value is compared, never rebuilt. */
async function rpdeRows(store: Store, table: string): Promise<string[]> {
  const rows = await store.readTable(table).catch((error: unknown) => {
    if (error instanceof StoreSchemaError) return [];
    throw error;
  });
  return rows.map((row) => JSON.stringify([row['id'], row['state'], row['modified_raw'], row['kind'], row['data']])).sort();
}

for (const engine of engines) {
  describe(`hostile RPDE pages on ${engine.name}`, () => {
    const on = onEngine(engine, () => startTestbed('rpde', 'hostile_rpde'));
    beforeAll(async () => {
      expect(await runOnce(on.store, on.fixture.source, on.http)).toBeUndefined();
    });

    it('never crash, store only whole items, never let an identifier out of its quotes', async () => {
      const { fixture: bed, store, http } = on;
      let count = 0;
      if (!(bed.source instanceof RpdeFeedSource)) throw new Error('the rpde testbed mirrors an RPDE feed');
      const feedUrl = bed.source.feedUrl;
      await fc.assert(
        fc.asyncProperty(rpdePage, async (page) => {
          // A fresh stream each time: its first page is the hostile one, the pages after it (if its
          // `next` leads on) are the publisher's.
          count += 1;
          const table = `hostile_${count}_items`;
          const source = new RpdeFeedSource({
            id: `rpde:hostile:${count}`,
            jobId: 'hostile',
            feedUrl: feedUrl,
            table,
            pollIntervalMs: 8_000,
            retryAfterDefault: { minMs: 60_000, maxMs: 120_000 },
            tombstoneRetentionMs: 7 * 86_400_000,
            resyncAfterMs: 7 * 86_400_000,
            allowedOrigins: [],
          });
          const items = page.items.map((item) => {
            const fields = [`"state":${item.state}`, `"id":${item.id}`, `"modified":${item.modified}`];
            if (item.kind !== undefined) fields.push(`"kind":${item.kind}`);
            if (item.data !== undefined) fields.push(`"data":${item.data}`);
            return `{${fields.join(',')}}`;
          });
          const next = page.next === 'self' ? `"next":${JSON.stringify(feedUrl)},` : page.next === 'missing' ? '' : `"next":${page.next},`;
          const body = `{${next}"items":[${items.join(',')}],"license":"https://creativecommons.org/licenses/by/4.0/"}`;
          bed.proxy.inject({ type: 'replace', contentType: 'application/json; charset=utf-8', body }, { match: (target) => feedUrl.endsWith(target) });
          await runOnce(store, source, http);
          bed.proxy.faults.clear();
          // A page that failed applied nothing: with no cursor, no rows.
          if ((await cursorOf(store, source.id)) === null) expect(await rpdeRows(store, table)).toEqual([]);
          // Every item stored is whole: one of the hostile page's (its id and modified as written) or the publisher's.
          // A JSON string as its text, any other value as written (an integer past 2^64 keeps its digits).
          const textOf = (raw: string): string => (raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
          const written = new Set(page.items.map((item) => `${textOf(item.id)}|${textOf(item.modified)}`));
          const published = new Set((bed.expected() as { id: string; modified: string }[]).map((item) => `${item.id}|${item.modified}`));
          for (const text of await rpdeRows(store, table)) {
            const [id, , modified] = JSON.parse(text) as [string, string, string];
            const key = `${id}|${modified}`;
            expect(written.has(key) || published.has(key), `stored ${id.slice(0, 40)} ${modified}`).toBe(true);
          }
          await expectCanary(store);
        }),
        { numRuns: RUNS },
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Opendatasoft

const FIELD_TYPES: readonly OdsFieldType[] = ['text', 'int', 'double', 'boolean', 'date', 'datetime', 'geo_point_2d', 'json_blob'];
const odsValue: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.constantFrom(...INJECTIONS),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(Number.MAX_SAFE_INTEGER * 4096),
  fc.constantFrom('2024-02-30', 'not a date', '2024-01-01T00:00:00Z'),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>,
);
const odsDataset = fc
  .uniqueArray(
    fc.record({ name: fc.oneof(fc.constantFrom('k', 'name', 'score', 'when', ...INJECTIONS, 'record_id', 'Name', 'a b', '1st', 'é'), fc.string({ minLength: 1, maxLength: 8 })), type: fc.constantFrom(...FIELD_TYPES) }),
    { minLength: 1, maxLength: 4, selector: (field) => field.name },
  )
  .chain((fields) =>
    fc.record({
      fields: fc.constant(fields as OdsField[]),
      records: fc.array(fc.dictionary(fc.constantFrom(...fields.map((field) => field.name)), odsValue) as fc.Arbitrary<RecordValues>, { maxLength: 5 }),
    }),
  );

for (const engine of engines) {
  describe(`hostile Opendatasoft datasets on ${engine.name}`, () => {
    const on = onEngine(engine, () => startOdsSimulator());
    let count = 0;

    it('records of any type under any field name: mirrored exactly or refused whole, never out of their quotes', async () => {
      const { fixture: sim, store, http } = on;
      await fc.assert(
        fc.asyncProperty(odsDataset, async ({ fields, records }) => {
          count += 1;
          const id = `hostile-${count}`;
          const table = `hostile_${count}`;
          sim.portal.addDataset({ id, fields, records });
          const source = new OdsRecordsSource({
            id: `ods:hostile:${id}`,
            jobId: 'hostile',
            portal: sim.url,
            apiKey: undefined,
            datasetId: id,
            table,
            uniqueKey: undefined,
            mode: 'snapshot',
            overlapMs: 0,
            reconcileEveryMs: 0,
          });
          const failure = await runOnce(store, source, http);
          if (failure === undefined) {
            expect(await mirrorRows(store, table)).toEqual(portalRows(sim.portal.get(id)));
          } else {
            // Refused whole: no table, or an empty one.
            const rows = await store.readTable(table).catch((error: unknown) => {
              if (error instanceof StoreSchemaError) return [];
              throw error;
            });
            expect(rows).toEqual([]);
            expect(await cursorOf(store, source.id)).toBeNull();
          }
          await expectCanary(store);
        }),
        { numRuns: RUNS },
      );
    });
  });
}

afterAll(() => {
  console.log(`hostile input: ${stats.inputs} inputs tried on ${engines.map((engine) => engine.name).join(' and ')}, ${stats.failed} refused with a clean error, 0 crashes`);
});
