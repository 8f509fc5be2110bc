import { describe, expect, it } from 'vitest';
import { HISTORY_HOURS, lastHours } from '../../src/core/change-history.js';
import type { ApplyCounts, ChangeOp } from '../../src/core/ops.js';
import { initialState, type SyncState } from '../../src/core/sync-state.js';
import type { Cell, SqlValue, TableSpec } from '../../src/core/tables.js';
import { LeaseLostError, StoreSchemaError, type Store } from '../../src/store/store.js';
import { obsTable, openForEachTest, upsertObs } from './store-setup.js';

/**
 * What every store engine must do, whatever its SQL: run by each engine's test file with a
 * factory that returns a freshly opened, empty store (its own file, schema or database).
 */
export function describeStoreContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`${name} store contract`, () => {
    let store: Store;
    openForEachTest(makeStore, (opened) => (store = opened));

    const obs = obsTable('text');
    const obsColumns = obs.columns.map((column) => column.name);

    async function apply(...ops: ChangeOp[]): Promise<ApplyCounts> {
      return store.transaction((tx) => tx.apply(ops));
    }

    function row(area: string, freq: string, time: string, value: SqlValue, status: SqlValue): Record<string, SqlValue> {
      return { REF_AREA: area, FREQ: freq, TIME_PERIOD: time, OBS_VALUE: value, OBS_STATUS: status };
    }

    function state(streamId: string, changes: Partial<SyncState>): SyncState {
      return { ...initialState(streamId, 'job-1', 'sdmx'), ...changes };
    }

    it('rolls back both the changes and the new cursor when the transaction throws midway', async () => {
      await store.transaction(async (tx) => {
        await tx.apply([{ op: 'ensureTable', spec: obs }, upsertObs([['A', 'M', '2020-01', '1', null]])]);
        await tx.writeState(state('s1', { cursor: { updatedAfter: 'one' } }));
      });
      await expect(
        store.transaction(async (tx) => {
          await tx.apply([upsertObs([['B', 'M', '2020-01', '2', null]]), { op: 'deleteWhere', table: 'obs', keys: [{ REF_AREA: 'A' }] }]);
          await tx.writeState(state('s1', { cursor: { updatedAfter: 'two' } }));
          throw new Error('the source broke off');
        }),
      ).rejects.toThrow('the source broke off');
      expect((await store.readState('s1'))?.cursor).toEqual({ updatedAfter: 'one' });
      expect(await store.readTable('obs')).toEqual([row('A', 'M', '2020-01', '1', null)]);
    });

    it('applies upsert, delete, upsert of one key in order, within one apply and across applies', async () => {
      await apply(
        { op: 'ensureTable', spec: obs },
        upsertObs([['A', 'M', '2020-01', '1', 'A']]),
        { op: 'deleteWhere', table: 'obs', keys: [{ REF_AREA: 'A', FREQ: 'M', TIME_PERIOD: '2020-01' }] },
        upsertObs([['A', 'M', '2020-01', '2', undefined]]),
      );
      // The omitted status of the re-insert must not resurrect the deleted row's value.
      expect(await store.readTable('obs')).toEqual([row('A', 'M', '2020-01', '2', null)]);

      await store.transaction(async (tx) => {
        await tx.apply([upsertObs([['A', 'M', '2020-02', '1', null]]), upsertObs([['B', 'M', '2020-02', '1', null]])]);
        await tx.apply([{ op: 'deleteWhere', table: 'obs', keys: [{ REF_AREA: 'A' }] }]);
      });
      expect(await store.readTable('obs')).toEqual([row('B', 'M', '2020-02', '1', null)]);
    });

    it('keeps the last write of a key when one upsert mixes rows that omit different cells', async () => {
      await apply(
        { op: 'ensureTable', spec: obs },
        upsertObs([
          ['A', 'M', '1', '1', 'x'],
          ['B', 'M', '1', '5', undefined],
          ['A', 'M', '1', '3', undefined],
          ['A', 'M', '1', undefined, 'y'],
          ['B', 'M', '1', '6', 'z'],
          ['A', 'M', '1', '4', undefined],
        ]),
      );
      expect(await store.readTable('obs')).toEqual([row('A', 'M', '1', '4', 'y'), row('B', 'M', '1', '6', 'z')]);
    });

    it('keeps the last of several rows for one key in one upsert', async () => {
      await apply(
        { op: 'ensureTable', spec: obs },
        upsertObs([
          ['A', 'M', '1', '1', 'x'],
          ['A', 'M', '1', '2', 'y'],
          ['B', 'M', '1', '1', null],
          ['A', 'M', '1', '3', 'z'],
        ]),
      );
      expect(await store.readTable('obs')).toEqual([row('A', 'M', '1', '3', 'z'), row('B', 'M', '1', '1', null)]);
    });

    it('keeps stored values for omitted cells, sets NULL for null cells, and gives new rows NULL for omitted ones', async () => {
      await apply({ op: 'ensureTable', spec: obs }, upsertObs([['A', 'M', '1', '10', 'P']]));
      await apply(
        upsertObs([
          ['A', 'M', '1', undefined, null],
          ['A', 'M', '2', undefined, 'E'],
        ]),
      );
      expect(await store.readTable('obs')).toEqual([row('A', 'M', '1', '10', null), row('A', 'M', '2', null, 'E')]);
    });

    it('deletes exactly the rows matching a partial key, and every row for an empty key', async () => {
      const rows: Cell[][] = [];
      for (const area of ['A', 'B']) for (const freq of ['M', 'Q']) for (const time of ['1', '2']) rows.push([area, freq, time, `${area}${freq}${time}`, null]);
      const counts = await apply({ op: 'ensureTable', spec: obs }, upsertObs(rows));
      expect(counts).toEqual({ upserted: 8, deleted: 0, updated: 0 });

      const deleted = await apply({ op: 'deleteWhere', table: 'obs', keys: [{ FREQ: 'Q', TIME_PERIOD: '1' }, { REF_AREA: 'A', FREQ: 'M' }, { REF_AREA: 'C' }] });
      expect(deleted).toEqual({ upserted: 0, deleted: 4, updated: 0 });
      expect((await store.readTable('obs')).map((stored) => stored.OBS_VALUE)).toEqual(['AQ2', 'BM1', 'BM2', 'BQ2']);

      expect(await apply({ op: 'deleteWhere', table: 'obs', keys: [{}] })).toEqual({ upserted: 0, deleted: 4, updated: 0 });
      expect(await store.readTable('obs')).toEqual([]);
    });

    it('matches { not: value } as any non-NULL value other than it, in deleteWhere, setNull and prune keys', async () => {
      const rows: Cell[][] = [
        ['', 'M', '1', '1', 'x'],
        ['A', 'M', '1', '2', 'y'],
        ['B', 'M', '1', '3', 'z'],
        ['', 'Q', '1', '4', 'w'],
        ['A', 'Q', '1', '5', null],
        ['B', 'Q', '1', '6', 'v'],
      ];
      await apply({ op: 'ensureTable', spec: obs }, upsertObs(rows));
      const left = async () => (await store.readTable('obs')).map((stored) => `${stored.REF_AREA}${stored.FREQ}:${stored.OBS_VALUE}/${stored.OBS_STATUS}`);

      // Both keys of one shape travel together (one statement on set-based engines), a third key has another shape.
      expect(await apply({ op: 'setNull', table: 'obs', keys: [{ REF_AREA: { not: '' }, FREQ: 'M' }, { REF_AREA: { not: 'B' }, FREQ: 'Q' }, { OBS_STATUS: { not: null }, REF_AREA: 'B' }], columns: ['OBS_VALUE'] })).toEqual({ upserted: 6, deleted: 0, updated: 0 });
      expect(await left()).toEqual(['M:1/x', 'Q:null/w', 'AM:null/y', 'AQ:null/null', 'BM:null/z', 'BQ:null/v']);

      expect(await apply({ op: 'prune', table: 'obs', keys: [{ REF_AREA: { not: '' } }], valueColumns: ['OBS_VALUE', 'OBS_STATUS'] })).toEqual({ upserted: 0, deleted: 1, updated: 0 });
      expect(await left()).toEqual(['M:1/x', 'Q:null/w', 'AM:null/y', 'BM:null/z', 'BQ:null/v']);

      // A NULL never passes `<>`: rows without a status stay when deleting "status other than y".
      await apply(upsertObs([['C', 'M', '1', '7', null]]));
      expect(await apply({ op: 'deleteWhere', table: 'obs', keys: [{ REF_AREA: { not: '' }, OBS_STATUS: { not: 'y' } }] })).toEqual({ upserted: 0, deleted: 2, updated: 0 });
      expect(await left()).toEqual(['M:1/x', 'Q:null/w', 'AM:null/y', 'CM:7/null']);
      expect(await apply({ op: 'deleteWhere', table: 'obs', keys: [{ OBS_STATUS: { not: null } }] })).toEqual({ upserted: 0, deleted: 3, updated: 0 });
      expect(await left()).toEqual(['CM:7/null']);
    });

    it('sets the listed columns to NULL only in rows matching the key', async () => {
      await apply(
        { op: 'ensureTable', spec: obs },
        upsertObs([
          ['A', 'M', '1', '1', 'x'],
          ['A', 'Q', '1', '2', 'y'],
          ['B', 'M', '1', '3', 'z'],
        ]),
      );
      const counts = await apply({ op: 'setNull', table: 'obs', keys: [{ REF_AREA: 'A' }], columns: ['OBS_STATUS'] });
      expect(counts.deleted).toBe(0);
      expect(await store.readTable('obs')).toEqual([row('A', 'M', '1', '1', null), row('A', 'Q', '1', '2', null), row('B', 'M', '1', '3', 'z')]);
      await expect(apply({ op: 'setNull', table: 'obs', keys: [{}], columns: ['FREQ'] })).rejects.toThrow(/FREQ/);
    });

    it('prunes rows whose value columns are all NULL, only within the key scope', async () => {
      await apply(
        { op: 'ensureTable', spec: obs },
        upsertObs([
          ['A', 'M', '1', null, null],
          ['A', 'M', '2', '1', null],
          ['A', 'Q', '1', null, 'x'],
          ['B', 'M', '1', null, null],
        ]),
      );
      const counts = await apply({ op: 'prune', table: 'obs', keys: [{ REF_AREA: 'A' }], valueColumns: ['OBS_VALUE', 'OBS_STATUS'] });
      expect(counts).toEqual({ upserted: 0, deleted: 1, updated: 0 });
      expect((await store.readTable('obs')).map((stored) => `${stored.REF_AREA}${stored.FREQ}${stored.TIME_PERIOD}`)).toEqual(['AM2', 'AQ1', 'BM1']);
      await apply({ op: 'prune', table: 'obs', keys: [{}], valueColumns: ['OBS_VALUE'] });
      expect((await store.readTable('obs')).map((stored) => `${stored.REF_AREA}${stored.FREQ}${stored.TIME_PERIOD}`)).toEqual(['AM2']);
    });

    it('updates rows matching every condition of an updateWhere and counts them as updated, not upserted', async () => {
      await apply(
        { op: 'ensureTable', spec: obs },
        upsertObs([
          ['A', 'M', '1', '1', null],
          ['A', 'M', '2', '2', 'x'],
          ['A', 'M', '3', '3', null],
        ]),
      );
      const counts = await apply({
        op: 'updateWhere',
        table: 'obs',
        set: { OBS_STATUS: 'gone' },
        where: [
          { column: 'OBS_STATUS', op: 'is null' },
          { column: 'TIME_PERIOD', op: '<', value: '3' },
        ],
      });
      // Counted apart: an in-place update is neither a new row version nor a deletion.
      expect(counts).toEqual({ upserted: 0, deleted: 0, updated: 1 });
      expect((await store.readTable('obs')).map((stored) => stored.OBS_STATUS)).toEqual(['gone', 'x', null]);
    });

    it('lets a newer stamp win and an older one lose, comparing 64-bit integers exactly', async () => {
      const items: TableSpec = {
        name: 'items',
        columns: [
          { name: 'id', type: 'text' },
          { name: 'modified', type: 'integer' },
          { name: 'data', type: 'json' },
        ],
        primaryKey: ['id'],
      };
      const base = 2n ** 60n;
      const upsert = (modified: bigint, data: string): ChangeOp => ({
        op: 'upsert',
        table: 'items',
        columns: ['id', 'modified', 'data'],
        rows: [['x', modified, data]],
        unlessStoredNewer: 'modified',
      });
      await apply({ op: 'ensureTable', spec: items }, upsert(base + 10n, '{"v":10}'));
      // base+9 and base+10 are the same double: only an integer comparison refuses it.
      expect(await apply(upsert(base + 9n, '{"v":9}'))).toEqual({ upserted: 0, deleted: 0, updated: 0 });
      expect(await store.readTable('items')).toEqual([{ id: 'x', modified: base + 10n, data: '{"v":10}' }]);
      expect(await apply(upsert(base + 10n, '{"v":"same"}'))).toEqual({ upserted: 1, deleted: 0, updated: 0 });
      expect(await apply(upsert(base + 11n, '{"v":11}'))).toEqual({ upserted: 1, deleted: 0, updated: 0 });
      expect(await store.readTable('items')).toEqual([{ id: 'x', modified: base + 11n, data: '{"v":11}' }]);
    });

    it('lets a newer text stamp win by string order', async () => {
      const items: TableSpec = {
        name: 'titems',
        columns: [
          { name: 'id', type: 'text' },
          { name: 'modified', type: 'text' },
          { name: 'v', type: 'integer' },
        ],
        primaryKey: ['id'],
      };
      const upsert = (modified: string, v: number): ChangeOp => ({ op: 'upsert', table: 'titems', columns: ['id', 'modified', 'v'], rows: [['x', modified, v]], unlessStoredNewer: 'modified' });
      await apply({ op: 'ensureTable', spec: items }, upsert('2024-05-01', 1), upsert('2024-04-30', 2));
      expect(await store.readTable('titems')).toEqual([{ id: 'x', modified: '2024-05-01', v: 1 }]);
      await apply(upsert('2024-05-02', 3));
      expect(await store.readTable('titems')).toEqual([{ id: 'x', modified: '2024-05-02', v: 3 }]);
    });

    it('counts only the rows a newer-wins upsert wrote, not those whose stored stamp is newer', async () => {
      const items: TableSpec = {
        name: 'stamped',
        columns: [
          { name: 'id', type: 'text' },
          { name: 'modified', type: 'text' },
        ],
        primaryKey: ['id'],
      };
      // Enough rows for the multi-row statements an engine batches, and a remainder.
      const ids = Array.from({ length: 130 }, (_, index) => `id${String(index).padStart(3, '0')}`);
      const upsert = (stamp: (index: number) => string): ChangeOp => ({
        op: 'upsert',
        table: 'stamped',
        columns: ['id', 'modified'],
        rows: ids.map((id, index) => [id, stamp(index)]),
        unlessStoredNewer: 'modified',
      });
      await apply({ op: 'ensureTable', spec: items }, upsert(() => 'm5'));
      // Every third row is older than its stored copy: refused, and not counted.
      const counts = await apply(upsert((index) => (index % 3 === 0 ? 'm4' : 'm6')));
      expect(counts).toEqual({ upserted: 130 - 44, deleted: 0, updated: 0 });
      expect((await store.readTable('stamped')).filter((stored) => stored.modified === 'm5')).toHaveLength(44);
    });

    it('an onlyChanged upsert writes and counts only new rows and rows whose given cells differ (NULL equal to NULL, JSON by its text)', async () => {
      const spec: TableSpec = {
        name: 'changing',
        columns: [
          { name: 'id', type: 'text' },
          { name: 'n', type: 'integer' },
          { name: 'x', type: 'real' },
          { name: 'doc', type: 'json' },
          { name: 'ok', type: 'boolean' },
          { name: 'note', type: 'text' },
        ],
        primaryKey: ['id'],
      };
      // Enough rows for the multi-row statements an engine batches, and a remainder.
      const row = (index: number, revision = 0): SqlValue[] => [`r${String(index).padStart(3, '0')}`, index, index / 4, index % 2 === 0 ? null : `{"i":${index}}`, index % 3 === 0 ? null : index % 3 === 1, revision > 0 && index % 10 === 0 ? `rev ${revision}` : null];
      const upsert = (rows: SqlValue[][]): ChangeOp => ({ op: 'upsert', table: 'changing', columns: ['id', 'n', 'x', 'doc', 'ok', 'note'], rows, onlyChanged: true });
      const rows = Array.from({ length: 130 }, (_, index) => row(index));
      expect(await apply({ op: 'ensureTable', spec }, upsert(rows))).toEqual({ upserted: 130, deleted: 0, updated: 0 });
      expect(await apply(upsert(rows))).toEqual({ upserted: 0, deleted: 0, updated: 0 });
      // 13 notes changed, one JSON document rewritten, one NULL given a value, one new row.
      const next = Array.from({ length: 130 }, (_, index) => row(index, 1));
      next[1] = ['r001', 1, 0.25, '{"i": 1}', true, null];
      next[2] = ['r002', 2, 0.5, '[]', false, null];
      next.push(row(200));
      expect(await apply(upsert(next))).toEqual({ upserted: 13 + 1 + 1 + 1, deleted: 0, updated: 0 });
      const stored = await store.readTable('changing');
      expect(stored.find((item) => item['id'] === 'r001')?.['doc']).toBe('{"i": 1}');
      expect(stored.filter((item) => item['note'] === 'rev 1')).toHaveLength(13);
      // A cell omitted is not compared: the stored value stays and the row is left alone.
      expect(await apply({ op: 'upsert', table: 'changing', columns: ['id', 'n'], rows: [['r010', 10]], onlyChanged: true })).toEqual({ upserted: 0, deleted: 0, updated: 0 });
    });

    it('reads back every column type as written', async () => {
      const spec: TableSpec = {
        name: 'typed',
        columns: [
          { name: 'id', type: 'integer' },
          { name: 't', type: 'text' },
          { name: 'i', type: 'integer' },
          { name: 'r', type: 'real' },
          { name: 'b', type: 'boolean' },
          { name: 'j', type: 'json' },
          { name: 'ts', type: 'timestamp' },
        ],
        primaryKey: ['id'],
      };
      const json = '{"b": [1, 2.50, "x"], "a": {"z": null}}';
      const rows: Cell[][] = [
        [1, '', -(2n ** 62n), 0.1, true, json, '2024-05-01T10:00:00.123+02:00'],
        [2, 'NaN', 42, -1e300, false, '[]', '2024-05-01T08:00:00Z'],
        [3, 'ünï "quoted" 🎉', 2n ** 53n + 1n, 3, null, null, null],
        [4, null, null, null, null, null, null],
      ];
      await apply({ op: 'ensureTable', spec }, { op: 'upsert', table: 'typed', columns: spec.columns.map((column) => column.name), rows });
      const back = await store.readTable('typed');
      expect(back).toEqual([
        { id: 1, t: '', i: -(2n ** 62n), r: 0.1, b: true, j: json, ts: '2024-05-01T10:00:00.123+02:00' },
        { id: 2, t: 'NaN', i: 42, r: -1e300, b: false, j: '[]', ts: '2024-05-01T08:00:00Z' },
        { id: 3, t: 'ünï "quoted" 🎉', i: 2n ** 53n + 1n, r: 3, b: null, j: null, ts: null },
        { id: 4, t: null, i: null, r: null, b: null, j: null, ts: null },
      ]);
      expect(JSON.parse(back[0]?.j as string)).toEqual(JSON.parse(json));
    });

    it('writes a batch large enough for the engine\'s bulk path as it writes a small one: every type, escapes, repeated keys, newer-wins', async () => {
      const spec: TableSpec = {
        name: 'bulk',
        columns: [
          { name: 'id', type: 'text' },
          { name: 'n', type: 'integer' },
          { name: 't', type: 'text' },
          { name: 'r', type: 'real' },
          { name: 'b', type: 'boolean' },
          { name: 'j', type: 'json' },
        ],
        primaryKey: ['id'],
      };
      // Text a bulk format must escape (its delimiters, line ends, escape character, NULL and end-of-data markers).
      const awkward = ['a\tb', 'line\nbreak', 'cr\r\nlf', 'back\\slash', '\\N', '\\.', '', ' ', 'ünï 🎉', '"quoted"', ',comma'];
      // Above the size from which an engine may switch to its bulk path (PostgreSQL: COPY from 5000 rows).
      const size = 6000;
      const id = (index: number) => `k${String(index).padStart(5, '0')}`;
      const made = (index: number, round: number): Cell[] => [
        id(index),
        index % 7 === 0 ? null : BigInt(index) * 2n ** 40n + BigInt(round),
        index % 5 === 0 ? null : `${awkward[index % awkward.length] as string}${round}`,
        index % 11 === 0 ? null : index / 3 + round,
        index % 13 === 0 ? null : (index + round) % 2 === 0,
        index % 17 === 0 ? null : `{"i": ${index}, "s": "x\\ty", "round": ${round}}`,
      ];
      const rows = Array.from({ length: size }, (_, index) => made(index, 0));
      // Every tenth key again later in the same upsert: the later row wins.
      for (let index = 0; index < size; index += 10) rows.push(made(index, 1));
      const columns = spec.columns.map((column) => column.name);
      const counts = await apply({ op: 'ensureTable', spec }, { op: 'upsert', table: 'bulk', columns, rows });
      expect(counts.upserted).toBeGreaterThanOrEqual(size);
      const expected = (index: number, round: number): Record<string, SqlValue> => {
        const cells = made(index, round);
        const n = cells[1] as bigint | null;
        return {
          id: cells[0] as string,
          n: n !== null && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n,
          t: cells[2] as string | null,
          r: cells[3] as number | null,
          b: cells[4] as boolean | null,
          j: cells[5] as string | null,
        };
      };
      const back = await store.readTable('bulk');
      expect(back).toHaveLength(size);
      expect(back).toEqual(Array.from({ length: size }, (_, index) => expected(index, index % 10 === 0 ? 1 : 0)));

      // Newer wins over a large batch too: a row whose stored text stamp is newer is neither written nor counted.
      const stamps = Array.from({ length: size }, (_, index): Cell[] => [id(index), index % 3 === 0 ? 'a' : `zz${index}`]);
      const stamped = await apply({ op: 'upsert', table: 'bulk', columns: ['id', 't'], rows: stamps, unlessStoredNewer: 't' });
      const after = await store.readTable('bulk');
      const wins = back.filter((stored, index) => stored.t === null || (index % 3 === 0 ? 'a' : `zz${index}`) >= (stored.t as string)).length;
      expect(stamped.upserted).toBe(wins);
      after.forEach((stored, index) => {
        const before = back[index] as Record<string, SqlValue>;
        const offered = index % 3 === 0 ? 'a' : `zz${index}`;
        expect(stored).toEqual({ ...before, t: before.t === null || offered >= (before.t as string) ? offered : before.t });
      });
    });

    it('accepts ensureTable again with the same spec and refuses a different shape, naming the difference', async () => {
      await apply({ op: 'ensureTable', spec: obs }, upsertObs([['A', 'M', '1', '1', null]]));
      await apply({ op: 'ensureTable', spec: obs });
      const changed: TableSpec = {
        name: 'obs',
        columns: [...obs.columns.filter((column) => column.name !== 'OBS_STATUS'), { name: 'UNIT', type: 'text' }],
        primaryKey: ['REF_AREA', 'TIME_PERIOD'],
      };
      const failure = apply({ op: 'ensureTable', spec: changed });
      await expect(failure).rejects.toBeInstanceOf(StoreSchemaError);
      await expect(failure).rejects.toThrow(/table obs .*added columns UNIT \(text\).*missing columns OBS_STATUS \(text\).*primary key \(REF_AREA, FREQ, TIME_PERIOD\) -> \(REF_AREA, TIME_PERIOD\)/);
      await expect(apply({ op: 'ensureTable', spec: { ...obs, columns: obs.columns.map((column) => (column.name === 'OBS_VALUE' ? { ...column, type: 'real' as const } : column)) } })).rejects.toThrow(
        /column OBS_VALUE type text -> real/,
      );
      expect(await store.readTable('obs')).toEqual([row('A', 'M', '1', '1', null)]);
    });

    it('refuses identifiers that fail validation, and the store\'s own table names', async () => {
      const bad = ['bad name', 'x"; DROP TABLE sync_state; --', '1abc', '', 'a'.repeat(64), 'sync_state', 'SYNC_STATE', 'dss_tables'];
      for (const name of bad) {
        await expect(apply({ op: 'ensureTable', spec: { ...obs, name } }), name).rejects.toBeInstanceOf(StoreSchemaError);
      }
      await expect(apply({ op: 'ensureTable', spec: { ...obs, columns: [...obs.columns, { name: 'x y', type: 'text' }] } })).rejects.toThrow(/"x y" is not a valid identifier/);
      await apply({ op: 'ensureTable', spec: obs });
      await expect(apply({ op: 'deleteWhere', table: 'obs', keys: [{ 'REF_AREA" OR 1=1 --': 'x' }] })).rejects.toThrow(/does not have/);
      await expect(apply({ op: 'upsert', table: 'nope', columns: ['a'], rows: [['x']] })).rejects.toThrow(/nope.*unknown/);
      await expect(store.readTable('sync_state')).rejects.toThrow();
    });

    it('refuses an upsert row without its key, naming the row', async () => {
      await apply({ op: 'ensureTable', spec: obs });
      await expect(apply(upsertObs([['A', 'M', '1', '1', null], ['A', null, '2', '1', null]]))).rejects.toThrow(/upsert row 1 .*FREQ/);
      await expect(apply({ op: 'upsert', table: 'obs', columns: ['REF_AREA', 'OBS_VALUE'], rows: [['A', '1']] })).rejects.toThrow(/key column FREQ/);
      expect(await store.readTable('obs')).toEqual([]);
    });

    it('swaps a replaced table in at commit: readers see the old content until then', async () => {
      await apply({ op: 'ensureTable', spec: obs }, upsertObs([['OLD', 'M', '1', '1', null]]));
      const wider: TableSpec = { ...obs, columns: [...obs.columns, { name: 'UNIT', type: 'text' }] };
      await store.transaction(async (tx) => {
        await tx.apply([
          { op: 'replaceTable', spec: wider },
          { op: 'upsert', table: 'obs', columns: [...obsColumns, 'UNIT'], rows: [['NEW', 'M', '1', '2', null, 'EUR']] },
        ]);
        expect(await store.readTable('obs')).toEqual([row('OLD', 'M', '1', '1', null)]);
      });
      expect(await store.readTable('obs')).toEqual([{ ...row('NEW', 'M', '1', '2', null), UNIT: 'EUR' }]);

      await expect(
        store.transaction(async (tx) => {
          await tx.apply([{ op: 'replaceTable', spec: obs }]);
          throw new Error('full load failed');
        }),
      ).rejects.toThrow('full load failed');
      expect(await store.readTable('obs')).toEqual([{ ...row('NEW', 'M', '1', '2', null), UNIT: 'EUR' }]);
      await apply({ op: 'upsert', table: 'obs', columns: ['REF_AREA', 'FREQ', 'TIME_PERIOD', 'UNIT'], rows: [['NEW', 'M', '1', 'USD']] });
      expect((await store.readTable('obs'))[0]?.UNIT).toBe('USD');
    });

    it('keeps a view over a replaced table working, with the new columns', async () => {
      // readTable also reads the views the store made, ordered by their base table's key.
      const attrs: TableSpec = {
        name: 'obs_attr_series',
        columns: [
          { name: 'REF_AREA', type: 'text' },
          { name: 'FREQ', type: 'text' },
          { name: 'UNIT_MULT', type: 'text' },
        ],
        primaryKey: ['REF_AREA', 'FREQ'],
      };
      const view = { name: 'obs_all', from: 'obs', leftJoins: [{ table: 'obs_attr_series', using: ['REF_AREA', 'FREQ'] }] };
      await apply(
        { op: 'ensureTable', spec: obs },
        { op: 'ensureTable', spec: attrs },
        { op: 'ensureView', spec: view },
        upsertObs([['A', 'M', '1', '1', null]]),
        { op: 'upsert', table: 'obs_attr_series', columns: ['REF_AREA', 'FREQ', 'UNIT_MULT'], rows: [['A', 'M', '3']] },
      );
      await apply({ op: 'ensureView', spec: view });
      const wider: TableSpec = { ...obs, columns: [...obs.columns, { name: 'UNIT', type: 'text' }] };
      await apply(
        { op: 'replaceTable', spec: wider },
        { op: 'upsert', table: 'obs', columns: [...obsColumns, 'UNIT'], rows: [['A', 'M', '2', '5', null, 'EUR']] },
      );
      expect(await store.readTable('obs_all')).toEqual([{ ...row('A', 'M', '2', '5', null), UNIT: 'EUR', UNIT_MULT: '3' }]);
    });

    it('builds tables and their view in one full-load transaction, and again on the next full load', async () => {
      const attrs: TableSpec = {
        name: 'obs_attr_series',
        columns: [
          { name: 'REF_AREA', type: 'text' },
          { name: 'FREQ', type: 'text' },
          { name: 'UNIT_MULT', type: 'integer' },
        ],
        primaryKey: ['REF_AREA', 'FREQ'],
        indexes: [['UNIT_MULT']],
      };
      const indexed: TableSpec = { ...obs, indexes: [['TIME_PERIOD'], ['OBS_STATUS', 'REF_AREA']] };
      const view = { name: 'obs_view', from: 'obs', leftJoins: [{ table: 'obs_attr_series', using: ['REF_AREA', 'FREQ'] }] };
      for (const load of [1, 2]) {
        await store.transaction(async (tx) => {
          await tx.apply([
            { op: 'replaceTable', spec: indexed },
            { op: 'replaceTable', spec: attrs },
            { op: 'ensureView', spec: view },
            upsertObs([[`A${load}`, 'M', '1', String(load), null]]),
            { op: 'upsert', table: 'obs_attr_series', columns: ['REF_AREA', 'FREQ', 'UNIT_MULT'], rows: [[`A${load}`, 'M', load]] },
          ]);
          await tx.writeState(state('full', { cursor: { load } }));
        });
        expect(await store.readTable('obs_view')).toEqual([{ ...row(`A${load}`, 'M', '1', String(load), null), UNIT_MULT: load }]);
      }
      await apply({ op: 'ensureTable', spec: indexed }, { op: 'ensureTable', spec: attrs }, { op: 'ensureView', spec: view });
      expect(await store.readTable('obs')).toEqual([row('A2', 'M', '1', '2', null)]);
    });

    it('joins a single-row table on no columns, so every row of the view carries its values', async () => {
      const dataset: TableSpec = {
        name: 'obs_dataset_attr',
        columns: [
          { name: 'ROW', type: 'text' },
          { name: 'DECIMALS', type: 'integer' },
        ],
        primaryKey: ['ROW'],
      };
      await apply(
        { op: 'ensureTable', spec: obs },
        { op: 'ensureTable', spec: dataset },
        { op: 'ensureView', spec: { name: 'obs_flat', from: 'obs', leftJoins: [{ table: 'obs_dataset_attr', using: [] }] } },
        upsertObs([
          ['A', 'M', '1', '1', null],
          ['B', 'M', '1', '2', null],
        ]),
      );
      expect((await store.readTable('obs_flat')).map((stored) => stored.DECIMALS)).toEqual([null, null]);
      await apply({ op: 'upsert', table: 'obs_dataset_attr', columns: ['ROW', 'DECIMALS'], rows: [['', 2]] });
      expect((await store.readTable('obs_flat')).map((stored) => stored.DECIMALS)).toEqual([2, 2]);
    });

    it('serialises concurrent transactions so each commits whole', async () => {
      await apply({ op: 'ensureTable', spec: obs });
      const slow = (area: string) =>
        store.transaction(async (tx) => {
          for (let i = 0; i < 5; i++) {
            await tx.apply([upsertObs([[area, 'M', String(i), String(i), null]])]);
            await new Promise((resolve) => setImmediate(resolve));
          }
          await tx.writeState(state(`s-${area}`, { cursor: area }));
        });
      await Promise.all([slow('A'), slow('B'), slow('C')]);
      expect(await store.readTable('obs')).toHaveLength(15);
      expect((await store.listStates()).map((stored) => [stored.streamId, stored.cursor])).toEqual([
        ['s-A', 'A'],
        ['s-B', 'B'],
        ['s-C', 'C'],
      ]);
    });

    it('refuses a transaction started inside another one of the same store', async () => {
      await expect(store.transaction(() => store.transaction(() => Promise.resolve(1)))).rejects.toThrow(/nested/);
      expect(await store.transaction(() => Promise.resolve(2))).toBe(2);
    });

    it('round-trips a stream state: cursor JSON, details, timestamps and counters', async () => {
      const full = state('sdmx:oecd:OECD.CFE:DF_TOURISM(2.0):data', {
        cursor: { updatedAfter: '2024-05-01T10:00:00+02:00', pages: [1, 2.5, -3], nested: { ok: true, none: null }, text: 'é"\\' },
        status: 'backoff',
        lastAttemptAt: '2024-05-01T10:00:00.000Z',
        lastSuccessAt: '2024-05-01T09:00:00.000Z',
        lastChangeAt: null,
        consecutiveFailures: 3,
        lastError: 'HTTP 503 from https://example.org/',
        rowsUpserted: 1_234_567_890_123,
        rowsDeleted: 42,
        details: { conformance: { missingModified: 2 } },
        leaseOwner: null,
        leaseEpoch: 0,
      });
      await store.transaction((tx) => tx.writeState(full));
      expect(await store.readState(full.streamId)).toEqual(full);
      await store.transaction(async (tx) => {
        expect(await tx.readState(full.streamId)).toEqual(full);
        await tx.writeState({ ...full, cursor: null, details: null, status: 'idle' });
      });
      expect(await store.readState(full.streamId)).toEqual({ ...full, cursor: null, details: null, status: 'idle' });
      expect(await store.readState('never-seen')).toBeUndefined();
      await store.transaction((tx) => tx.writeState(state('a-first', { cursor: 'x' })));
      expect((await store.listStates()).map((stored) => stored.streamId)).toEqual(['a-first', full.streamId]);
    });

    it('fences commits with the lease epoch: a superseded run cannot write its state', async () => {
      const first = await store.acquireLease('s1', 'run-1');
      expect(first).toBeDefined();
      expect(await store.acquireLease('s1', 'run-2')).toBeUndefined();
      await store.transaction((tx) => tx.writeState(state('s1', { cursor: 'first', leaseOwner: 'run-1', leaseEpoch: first?.epoch ?? -1 })));
      await first?.release();
      await first?.release();

      const second = await store.acquireLease('s1', 'run-2');
      expect(second?.epoch).toBeGreaterThan(first?.epoch ?? Infinity);
      const stale = store.transaction(async (tx) => {
        await tx.apply([{ op: 'ensureTable', spec: obs }]);
        await tx.writeState(state('s1', { cursor: 'stale', leaseOwner: 'run-1', leaseEpoch: first?.epoch ?? -1 }));
      });
      await expect(stale).rejects.toBeInstanceOf(LeaseLostError);
      expect((await store.readState('s1'))?.cursor).toBe('first');
      await expect(store.readTable('obs')).rejects.toThrow();
      await store.transaction((tx) => tx.writeState(state('s1', { cursor: 'second', leaseOwner: 'run-2', leaseEpoch: second?.epoch ?? -1 })));
      expect((await store.readState('s1'))?.cursor).toBe('second');
      await second?.release();
      expect(await store.acquireLease('other', 'run-3')).toBeDefined();
    });

    it('counts a stream\'s changes per hour with its commit, and forgets them with its rollback', async () => {
      const at = new Date('2026-12-03T10:20:00Z');
      await store.transaction((tx) => tx.recordChanges('s1', at, 5));
      await store.transaction((tx) => tx.recordChanges('s1', new Date('2026-12-03T10:50:00Z'), 2));
      await store.transaction((tx) => tx.recordChanges('s2', new Date('2026-12-03T12:05:00Z'), 1));
      await expect(
        store.transaction(async (tx) => {
          await tx.recordChanges('s1', at, 100);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      const histories = await store.changeHistories();
      expect([...histories.keys()].sort()).toEqual(['s1', 's2']);
      const s1 = lastHours(histories.get('s1'), new Date('2026-12-03T12:30:00Z'));
      expect(s1).toHaveLength(HISTORY_HOURS);
      expect(s1.slice(-3)).toEqual([7, 0, 0]);
      expect(lastHours(histories.get('s2'), new Date('2026-12-03T12:30:00Z')).slice(-1)).toEqual([1]);
    });

    describe('staging: a snapshot applied as a difference', () => {
      const items: TableSpec = {
        name: 'items',
        columns: [
          { name: 'id', type: 'text' },
          { name: 'n', type: 'integer' },
          { name: 'doc', type: 'json' },
          { name: 'ok', type: 'boolean' },
          { name: 'note', type: 'text' },
          { name: 'missing_since', type: 'integer' },
        ],
        primaryKey: ['id'],
      };
      const staged = ['id', 'n', 'doc', 'ok', 'missing_since'];
      const stored = (id: string, n: SqlValue, doc: SqlValue, ok: SqlValue, note: SqlValue = null, missing: SqlValue = null) => ({ id, n, doc, ok, note, missing_since: missing });

      async function seed(): Promise<void> {
        await apply({ op: 'ensureTable', spec: items }, {
          op: 'upsert',
          table: 'items',
          columns: ['id', 'n', 'doc', 'ok', 'note'],
          rows: [
            ['a', 1, '{"x":1}', true, 'kept'],
            ['b', 2, null, false, 'kept'],
            ['c', 3, '[1]', null, 'kept'],
            ['d', 4, '{}', true, 'kept'],
          ],
        });
      }

      it('inserts the new keys, updates only rows whose staged cells differ (NULLs and JSON included), deletes the unstaged, in one transaction', async () => {
        await seed();
        const counts = await store.transaction(async (tx) => {
          await tx.apply([{ op: 'beginStaging', table: 'items', columns: staged }]);
          await tx.apply([{ op: 'stageRows', table: 'items', rows: [['a', 1, '{"x":1}', true, null], ['b', 2, '{"y":null}', false, null]] }]);
          await tx.apply([{ op: 'stageRows', table: 'items', rows: [['c', 3, '[1]', null, null], ['e', 5, null, true, null], ['e', 6, null, true, null]] }]);
          return tx.apply([{ op: 'applyStaged', table: 'items', staged: 'write', unstaged: { action: 'delete' } }]);
        });
        // b changed (NULL -> JSON), e is new (its later staged row wins), d was not staged; a and c are equal.
        expect(counts).toEqual({ upserted: 2, deleted: 1, updated: 0 });
        expect(await store.readTable('items')).toEqual([
          stored('a', 1, '{"x":1}', true, 'kept'),
          stored('b', 2, '{"y":null}', false, 'kept'),
          stored('c', 3, '[1]', null, 'kept'),
          stored('e', 6, null, true),
        ]);
        // The same snapshot again: nothing to write.
        const again = await store.transaction(async (tx) => {
          await tx.apply([{ op: 'beginStaging', table: 'items', columns: staged }]);
          await tx.apply([{ op: 'stageRows', table: 'items', rows: [['a', 1, '{"x":1}', true, null], ['b', 2, '{"y":null}', false, null], ['c', 3, '[1]', null, null], ['e', 6, null, true, null]] }]);
          return tx.apply([{ op: 'applyStaged', table: 'items', staged: 'write', unstaged: { action: 'delete' } }]);
        });
        expect(again).toEqual({ upserted: 0, deleted: 0, updated: 0 });
      });

      it('keeps or marks unstaged rows, the mark only where its conditions hold; staged keys alone delete nothing else', async () => {
        await seed();
        await apply({ op: 'updateWhere', table: 'items', set: { missing_since: 7 }, where: [{ column: 'id', op: '=', value: 'd' }] });
        const marked = await store.transaction(async (tx) => {
          await tx.apply([{ op: 'beginStaging', table: 'items', columns: staged }, { op: 'stageRows', table: 'items', rows: [['a', 1, '{"x":1}', true, null]] }]);
          return tx.apply([
            { op: 'applyStaged', table: 'items', staged: 'write', unstaged: { action: 'set', set: { missing_since: 9 }, where: [{ column: 'missing_since', op: 'is null' }] } },
          ]);
        });
        expect(marked).toEqual({ upserted: 0, deleted: 0, updated: 2 });
        expect((await store.readTable('items')).map((item) => [item['id'], item['missing_since']])).toEqual([['a', null], ['b', 9], ['c', 9], ['d', 7]]);
        const reconciled = await store.transaction(async (tx) =>
          tx.apply([
            { op: 'beginStaging', table: 'items', columns: ['id'] },
            { op: 'stageRows', table: 'items', rows: [['a'], ['c'], ['zz']] },
            { op: 'applyStaged', table: 'items', staged: 'ignore', unstaged: { action: 'delete' } },
          ]),
        );
        expect(reconciled).toEqual({ upserted: 0, deleted: 2, updated: 0 });
        expect((await store.readTable('items')).map((item) => item['id'])).toEqual(['a', 'c']);
        await apply(
          { op: 'beginStaging', table: 'items', columns: ['id', 'n'] },
          { op: 'stageRows', table: 'items', rows: [['f', 8]] },
          { op: 'applyStaged', table: 'items', staged: 'write', unstaged: { action: 'keep' } },
        );
        expect((await store.readTable('items')).map((item) => [item['id'], item['n'], item['note']])).toEqual([['a', 1, 'kept'], ['c', 3, 'kept'], ['f', 8, null]]);
      });

      it('an area of keys alone: keys staged twice count once, new keys are inserted once, unstaged rows deleted', async () => {
        await seed();
        const keys = Array.from({ length: 300 }, (_, index) => [index % 2 === 0 ? 'a' : 'c']);
        const reconciled = await store.transaction(async (tx) =>
          tx.apply([
            { op: 'beginStaging', table: 'items', columns: ['id'] },
            { op: 'stageRows', table: 'items', rows: keys },
            { op: 'stageRows', table: 'items', rows: [['a'], ['new'], ['new']] },
            { op: 'applyStaged', table: 'items', staged: 'write', unstaged: { action: 'delete' } },
          ]),
        );
        expect(reconciled).toEqual({ upserted: 1, deleted: 2, updated: 0 });
        expect((await store.readTable('items')).map((item) => [item['id'], item['note']])).toEqual([['a', 'kept'], ['c', 'kept'], ['new', null]]);
      });

      it('rolls staged changes back with the transaction, and begins again on an empty area', async () => {
        await seed();
        await expect(
          store.transaction(async (tx) => {
            await tx.apply([{ op: 'beginStaging', table: 'items', columns: staged }, { op: 'stageRows', table: 'items', rows: [['z', 1, null, null, null]] }]);
            await tx.apply([{ op: 'applyStaged', table: 'items', staged: 'write', unstaged: { action: 'delete' } }]);
            throw new Error('the export was cut');
          }),
        ).rejects.toThrow('the export was cut');
        expect((await store.readTable('items')).map((item) => item['id'])).toEqual(['a', 'b', 'c', 'd']);
        await apply(
          { op: 'beginStaging', table: 'items', columns: staged },
          { op: 'stageRows', table: 'items', rows: [['stale', 1, null, null, null]] },
          { op: 'beginStaging', table: 'items', columns: staged },
          { op: 'stageRows', table: 'items', rows: [['a', 1, '{"x":1}', true, null]] },
          { op: 'applyStaged', table: 'items', staged: 'write', unstaged: { action: 'delete' } },
        );
        expect((await store.readTable('items')).map((item) => item['id'])).toEqual(['a']);
      });

      it('refuses staging without its key, rows of the wrong width, and stageRows or applyStaged without beginStaging', async () => {
        await seed();
        await expect(apply({ op: 'beginStaging', table: 'items', columns: ['n'] })).rejects.toThrow('table items: beginStaging lacks key column id');
        await expect(apply({ op: 'beginStaging', table: 'items', columns: ['id', 'nope'] })).rejects.toThrow(/nope.*does not have/);
        await expect(apply({ op: 'stageRows', table: 'items', rows: [['a']] })).rejects.toThrow('table items: stageRows without beginStaging in this transaction');
        await expect(apply({ op: 'applyStaged', table: 'items', staged: 'write', unstaged: { action: 'keep' } })).rejects.toThrow('without beginStaging');
        await expect(apply({ op: 'beginStaging', table: 'items', columns: ['id', 'n'] }, { op: 'stageRows', table: 'items', rows: [['a']] })).rejects.toThrow(
          'table items: staged row 0 does not give exactly the 2 begun columns',
        );
        await expect(apply({ op: 'beginStaging', table: 'items', columns: ['id'] }, { op: 'stageRows', table: 'items', rows: [[null]] })).rejects.toThrow(/id/);
        // A staging area never outlives its transaction, applied or not.
        await apply({ op: 'beginStaging', table: 'items', columns: ['id'] });
        await expect(apply({ op: 'applyStaged', table: 'items', staged: 'ignore', unstaged: { action: 'delete' } })).rejects.toThrow('without beginStaging');
        expect(await store.readTable('items')).toHaveLength(4);
      });

      it('stages into a table replaced in the same transaction, and applies a large snapshot in batches', async () => {
        await seed();
        const rows = Array.from({ length: 2500 }, (_, index): SqlValue[] => [`k${String(index).padStart(5, '0')}`, index, null, index % 2 === 0, null]);
        const counts = await store.transaction(async (tx) => {
          await tx.apply([{ op: 'replaceTable', spec: items }, { op: 'beginStaging', table: 'items', columns: staged }]);
          for (let start = 0; start < rows.length; start += 1000) await tx.apply([{ op: 'stageRows', table: 'items', rows: rows.slice(start, start + 1000) }]);
          return tx.apply([{ op: 'applyStaged', table: 'items', staged: 'write', unstaged: { action: 'delete' } }]);
        });
        expect(counts).toEqual({ upserted: 2500, deleted: 0, updated: 0 });
        const back = await store.readTable('items');
        expect(back).toHaveLength(2500);
        expect(back[1]).toEqual(stored('k00001', 1, null, false));
      });
    });


    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
