import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeOp } from '../../../src/core/ops.js';
import { SdmxActionMapper } from '../../../src/sources/sdmx/apply-actions.js';
import { openSdmxCsv, type SdmxCsvRow } from '../../../src/sources/sdmx/csv-reader.js';
import { planLayout } from '../../../src/sources/sdmx/layout.js';
import { OpBatcher } from '../../../src/sources/sdmx/op-batcher.js';
import { parseStructureJson } from '../../../src/sources/sdmx/structure-json.js';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { tempSqliteStore } from '../../helpers/stores.js';

describe('op batcher', () => {
  it('merges upserts per table across other tables, folding a repeated key into its first row', () => {
    const out = new OpBatcher();
    const obs = ['K', 'V', 'W'];
    const series = ['S', 'A'];
    out.upsert('obs', obs, ['k1', '1', undefined], 1);
    out.upsert('series', series, ['s1', 'x'], 1);
    out.upsert('obs', obs, ['k2', '2', 'w'], 1);
    out.upsert('series', series, ['s1', undefined], 1);
    out.upsert('obs', obs, ['k1', undefined, 'w1'], 1);
    expect(out.ops()).toEqual([
      { op: 'upsert', table: 'obs', columns: obs, rows: [['k1', '1', 'w1'], ['k2', '2', 'w']] },
      { op: 'upsert', table: 'series', columns: series, rows: [['s1', 'x']] },
    ]);
  });

  it('folds a repeated key that comes after a run of keys in ascending order, whichever cell tells them apart', () => {
    const out = new OpBatcher();
    const columns = ['A', 'B', 'V', 'W'];
    out.upsert('obs', columns, ['a', '1', 'v1', undefined], 2);
    out.upsert('obs', columns, ['a', '2', 'v2', undefined], 2);
    out.upsert('obs', columns, ['b', '1', 'v3', undefined], 2);
    out.upsert('obs', columns, ['a', '2', undefined, 'w2'], 2);
    out.upsert('obs', columns, ['c', '0', 'v4', undefined], 2);
    out.upsert('obs', columns, ['b', '1', 'v5', 'w5'], 2);
    expect(out.ops()).toEqual([
      {
        op: 'upsert',
        table: 'obs',
        columns,
        rows: [
          ['a', '1', 'v1', undefined],
          ['a', '2', 'v2', 'w2'],
          ['b', '1', 'v5', 'w5'],
          ['c', '0', 'v4', undefined],
        ],
      },
    ]);
  });

  it('keeps keys apart whose cells, run together, would read the same', () => {
    const out = new OpBatcher();
    const columns = ['A', 'B', 'V'];
    out.upsert('obs', columns, ['b', 'x', '0'], 2);
    out.upsert('obs', columns, ['a\u0000b', 'c', '1'], 2);
    out.upsert('obs', columns, ['a', 'b\u0000c', '2'], 2);
    out.upsert('obs', columns, ['1:a', '', '3'], 2);
    out.upsert('obs', columns, ['1:a0:', '', '4'], 2);
    expect(out.ops()).toEqual([
      {
        op: 'upsert',
        table: 'obs',
        columns,
        rows: [
          ['b', 'x', '0'],
          ['a\u0000b', 'c', '1'],
          ['a', 'b\u0000c', '2'],
          ['1:a', '', '3'],
          ['1:a0:', '', '4'],
        ],
      },
    ]);
  });

  it('keeps the order of operations on one table: a delete between two upserts splits them', () => {
    const out = new OpBatcher();
    out.upsert('obs', ['K', 'V'], ['k1', '1'], 1);
    out.deleteWhere('obs', { K: 'k1' });
    out.deleteWhere('other', {});
    out.deleteWhere('obs', { K: 'k2' });
    out.upsert('obs', ['K', 'V'], ['k1', '2'], 1);
    const shape = (op: ChangeOp): unknown[] => {
      if (op.op === 'upsert') return [op.op, op.table, op.rows];
      if (op.op === 'deleteWhere') return [op.op, op.table, op.keys];
      return [op.op];
    };
    expect(out.ops().map(shape)).toEqual([
      ['upsert', 'obs', [['k1', '1']]],
      ['deleteWhere', 'obs', [{ K: 'k1' }, { K: 'k2' }]],
      ['deleteWhere', 'other', [{}]],
      ['upsert', 'obs', [['k1', '2']]],
    ]);
  });

  it('shares one setNull and one prune between consecutive component deletes on a table, never across another operation on it', () => {
    const out = new OpBatcher();
    out.nullAndPrune('obs', { K: 'a' }, ['V'], ['V', 'W']);
    out.deleteWhere('series', { S: 'x' });
    out.nullAndPrune('obs', { K: 'b' }, ['V'], ['V', 'W']);
    out.nullAndPrune('obs', { K: 'c' }, ['W'], ['V', 'W']);
    out.upsert('obs', ['K', 'V', 'W'], ['c', '1', '1'], 1);
    out.nullAndPrune('obs', { K: 'd' }, ['W'], ['V', 'W']);
    expect(out.ops()).toEqual([
      { op: 'setNull', table: 'obs', keys: [{ K: 'a' }, { K: 'b' }], columns: ['V'] },
      { op: 'prune', table: 'obs', keys: [{ K: 'a' }, { K: 'b' }], valueColumns: ['V', 'W'] },
      { op: 'deleteWhere', table: 'series', keys: [{ S: 'x' }] },
      { op: 'setNull', table: 'obs', keys: [{ K: 'c' }], columns: ['W'] },
      { op: 'prune', table: 'obs', keys: [{ K: 'c' }], valueColumns: ['V', 'W'] },
      { op: 'upsert', table: 'obs', columns: ['K', 'V', 'W'], rows: [['c', '1', '1']] },
      { op: 'setNull', table: 'obs', keys: [{ K: 'd' }], columns: ['W'] },
      { op: 'prune', table: 'obs', keys: [{ K: 'd' }], valueColumns: ['V', 'W'] },
    ]);
  });
});

/**
 * The claim behind the batching: mapping a message in one batch gives the same store content as
 * applying each row's operations alone, in file order. Checked on random messages with a real store.
 */
describe('batched operations equal row-by-row application', () => {
  const structure = parseStructureJson(JSON.parse(readFileSync(new URL('../../fixtures/sdmx/df_test_delete_structure.json', import.meta.url), 'utf8')), {
    agency: 'OECD',
    id: 'DF_TEST_DELETE',
    version: '1.0',
  });
  const HEADER = 'STRUCTURE,STRUCTURE_ID,ACTION,DIM_1,DIM_2,TIME_PERIOD,OBS_VALUE,OBS_ATTR,TS_ATTR,GR_ATTR,DF_ATTR\n';
  let batched: SqliteStore;
  let single: SqliteStore;
  const cleanups: (() => Promise<void>)[] = [];
  let round = 0;

  beforeAll(async () => {
    for (const assign of [(s: SqliteStore) => (batched = s), (s: SqliteStore) => (single = s)]) {
      const { store, cleanup } = await tempSqliteStore();
      assign(store);
      cleanups.push(cleanup);
    }
  });
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  // constantFrom rather than option: fast-check's first runs favour `nil`, which would leave rows empty.
  const code = fc.constantFrom('A', 'B', 'A', 'B', '');
  const cell = fc.constantFrom('1', '2', '*', '', '');
  const row = fc
    .tuple(fc.constantFrom('R', 'M', 'D', 'D-scope'), code, code, fc.constantFrom('2020', '2021', '2020', '2021', ''), cell, cell, cell, cell, cell)
    .map(([action, d1, d2, time, ...values]) => {
      if (action === 'D-scope') return ['D', d1, d2, time, '', '', '', '', ''].join(',');
      // Writes need the dimensions of what they write; keep generated R/M rows valid.
      if (action !== 'D') {
        const full = d1 !== '' && d2 !== '' && time !== '';
        const [v, o, ts, gr, df] = values;
        return [action, d1, d2, full ? time : '', full ? v : '', full ? o : '', d1 !== '' && d2 !== '' ? ts : '', d2 !== '' ? gr : '', df].join(',');
      }
      return [action, d1, d2, time, ...values].join(',');
    });

  async function rowsOf(lines: string[]): Promise<{ mapper: SdmxActionMapper; rows: SdmxCsvRow[] }> {
    const message = await openSdmxCsv(Readable.from([HEADER + lines.map((line) => `dataflow,OECD:DF_TEST_DELETE(1.0),${line}\n`).join('')]));
    const rows: SdmxCsvRow[] = [];
    for await (const batch of message.batches) rows.push(...batch);
    const layout = planLayout(structure, { prefix: `r${round}` });
    return { mapper: new SdmxActionMapper(structure, layout, message.header, { label: 'random' }), rows };
  }

  async function content(store: SqliteStore): Promise<unknown[]> {
    const layout = planLayout(structure, { prefix: `r${round}` });
    const tables = [layout.observations, ...layout.attributeTables, layout.datasetAttributes!];
    return Promise.all(tables.map((table) => store.readTable(table.spec.name)));
  }

  it('on random messages of R, M and D rows over a small key space', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 25 }), fc.array(row, { minLength: 1, maxLength: 25 }), async (before, message) => {
        round += 1;
        const layout = planLayout(structure, { prefix: `r${round}` });
        const create: ChangeOp[] = [layout.observations, ...layout.attributeTables, layout.datasetAttributes!].map((table) => ({ op: 'ensureTable', spec: table.spec }));
        const setup = await rowsOf(before);
        const { mapper, rows } = await rowsOf(message);
        await batched.transaction(async (tx) => {
          await tx.apply(create);
          await tx.apply(setup.mapper.map(setup.rows));
          await tx.apply(mapper.map(rows));
        });
        await single.transaction(async (tx) => {
          await tx.apply(create);
          for (const one of setup.rows) await tx.apply(setup.mapper.map([one]));
          for (const one of rows) await tx.apply(mapper.map([one]));
        });
        expect(await content(batched)).toEqual(await content(single));
      }),
      { numRuns: 100 },
    );
  });
});
