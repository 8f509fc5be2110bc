import { describe, expect, it } from 'vitest';
import type { ChangeOp } from '../../src/core/ops.js';
import type { TableSpec } from '../../src/core/tables.js';
import { DeliveryShapeError, type DeliveryTarget, type OutboxTracking, type RecordRow } from '../../src/store/delivery.js';
import { deliveredTableName } from '../../src/store/sql/delivery-sql.js';
import { LeaseLostError, type Store } from '../../src/store/store.js';
import { openForEachTest } from './store-setup.js';

/**
 * The outbox and delivered state every engine keeps (store/delivery.ts): run by each engine's test
 * file with a factory that returns a freshly opened, empty store, and a way to make a delivered-state
 * table look as an earlier version made it (without the column of uncertain rows).
 */
export function describeDeliveryContract(name: string, makeStore: () => Promise<Store>, dropColumn: (store: Store, table: string, column: string) => Promise<void>): void {
  describe(`${name} delivery contract`, () => {
    let store: Store;
    openForEachTest(makeStore, (opened) => (store = opened));

    const obs: TableSpec = {
      name: 'df_obs',
      columns: [
        { name: 'AREA', type: 'text' },
        { name: 'TIME_PERIOD', type: 'text' },
        { name: 'OBS_VALUE', type: 'text' },
      ],
      primaryKey: ['AREA', 'TIME_PERIOD'],
    };
    const series: TableSpec = { name: 'df_attr_series', columns: [{ name: 'AREA', type: 'text' }, { name: 'UNIT', type: 'text' }], primaryKey: ['AREA'] };
    const datasetAttr: TableSpec = { name: 'df_dataset_attr', columns: [{ name: 'dataset_row', type: 'integer' }, { name: 'TITLE', type: 'text' }], primaryKey: ['dataset_row'] };
    const setup: ChangeOp[] = [
      { op: 'ensureTable', spec: obs },
      { op: 'ensureTable', spec: series },
      { op: 'ensureTable', spec: datasetAttr },
      { op: 'ensureView', spec: { name: 'df', from: 'df_obs', leftJoins: [{ table: 'df_attr_series', using: ['AREA'] }, { table: 'df_dataset_attr', using: [] }] } },
    ];
    const tracking: OutboxTracking = { targets: ['t1'], relation: 'df' };
    const target: DeliveryTarget = { id: 't1', streamId: 's1', records: { relation: 'df' } };
    const obsRows = (rows: string[][]): ChangeOp => ({ op: 'upsert', table: 'df_obs', columns: ['AREA', 'TIME_PERIOD', 'OBS_VALUE'], rows });

    async function apply(ops: ChangeOp[]): Promise<void> {
      await store.transaction((tx) => tx.apply(ops, tracking));
    }

    /** Delivers every difference at once, as a target that acknowledges everything would. */
    async function deliverAll(): Promise<{ written: RecordRow[]; removed: RecordRow[] }> {
      const shape = await store.prepareDelivery(target);
      const entries = await store.outboxEntries('t1', 1000);
      const scopes = entries.map((entry) => entry.scope);
      const changed = await store.differences(target, shape, { scopes, which: 'changed', limit: 1000, exclude: [] });
      const removed = await store.differences(target, shape, { scopes, which: 'removed', limit: 1000, exclude: [] });
      const change = { written: changed.map((d) => d.current as RecordRow), removed: removed.map((d) => d.delivered as RecordRow) };
      await store.markDelivered(target, shape, change);
      await store.removeOutboxEntries('t1', entries.map((entry) => entry.seq));
      return change;
    }

    it('queues the keys a transaction writes with its changes, and nothing when it rolls back', async () => {
      await apply([...setup, obsRows([['FR', '2020', '1'], ['DE', '2020', '2']])]);
      const entries = await store.outboxEntries('t1', 10);
      expect(entries.map((entry) => entry.scope)).toEqual([
        { AREA: 'FR', TIME_PERIOD: '2020' },
        { AREA: 'DE', TIME_PERIOD: '2020' },
      ]);
      await expect(
        store.transaction(async (tx) => {
          await tx.apply([obsRows([['IT', '2020', '3']])], tracking);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await store.outboxEntries('t1', 10)).toHaveLength(2);
      await store.transaction((tx) => tx.apply([obsRows([['IT', '2020', '3']])]));
      expect(await store.outboxEntries('t1', 10)).toHaveLength(2);
    });

    it('queues a snapshot as everything, applied or not: it deletes what it did not see, and writes its rows as they come', async () => {
      await apply(setup);
      const snapshot = (table: string): ChangeOp[] => [{ op: 'beginSnapshot', table, columns: ['AREA', 'TIME_PERIOD', 'OBS_VALUE'] }, { op: 'snapshotRows', table, rows: [['FR', '2020', '1']] }];
      await apply([...snapshot('df_obs'), { op: 'applySnapshot', table: 'df_obs' }]);
      expect((await store.outboxEntries('t1', 10)).map((entry) => entry.scope)).toEqual([null]);
      await apply(snapshot('df_obs'));
      expect((await store.outboxEntries('t1', 10)).map((entry) => entry.scope)).toEqual([null, null]);
    });

    it('queues a series attribute as a partial key, a wildcard delete as its pattern, a dataset attribute and a rebuild as everything', async () => {
      await apply(setup);
      await apply([{ op: 'upsert', table: 'df_attr_series', columns: ['AREA', 'UNIT'], rows: [['FR', 'EUR']] }]);
      await apply([{ op: 'deleteWhere', table: 'df_obs', keys: [{ TIME_PERIOD: '2020' }] }]);
      // A negated test widens to a wildcard: here, every record.
      await apply([{ op: 'setNull', table: 'df_obs', keys: [{ AREA: { not: 'FR' } }], columns: ['OBS_VALUE'] }]);
      await apply([{ op: 'upsert', table: 'df_dataset_attr', columns: ['dataset_row', 'TITLE'], rows: [[1, 'x']] }]);
      expect((await store.outboxEntries('t1', 10)).map((entry) => entry.scope)).toEqual([{ AREA: 'FR' }, { TIME_PERIOD: '2020' }, null, null]);
      await apply([{ op: 'replaceTable', spec: obs }, obsRows([['FR', '2021', '1']])]);
      expect((await store.outboxEntries('t1', 10)).slice(4).map((entry) => entry.scope)).toEqual([null]);
    });

    it('finds, in SQL, the records a series attribute change touched and those a wildcard delete removed', async () => {
      await apply([...setup, obsRows([['FR', '2020', '1'], ['FR', '2021', '2'], ['DE', '2020', '3']])]);
      expect((await deliverAll()).written).toHaveLength(3);
      expect(await store.outboxEntries('t1', 10)).toEqual([]);
      await apply([{ op: 'upsert', table: 'df_attr_series', columns: ['AREA', 'UNIT'], rows: [['FR', 'EUR']] }]);
      const { written } = await deliverAll();
      expect([...written].sort((a, b) => String(a['TIME_PERIOD']).localeCompare(String(b['TIME_PERIOD'])))).toEqual([
        { AREA: 'FR', TIME_PERIOD: '2020', OBS_VALUE: '1', UNIT: 'EUR', TITLE: null },
        { AREA: 'FR', TIME_PERIOD: '2021', OBS_VALUE: '2', UNIT: 'EUR', TITLE: null },
      ]);
      await apply([{ op: 'deleteWhere', table: 'df_obs', keys: [{ TIME_PERIOD: '2020' }] }]);
      const second = await deliverAll();
      expect(second.written).toEqual([]);
      expect(second.removed.map((row) => row['AREA']).sort()).toEqual(['DE', 'FR']);
      expect(second.removed.find((row) => row['AREA'] === 'FR')).toEqual({ AREA: 'FR', TIME_PERIOD: '2020', OBS_VALUE: '1', UNIT: 'EUR', TITLE: null });
      // Nothing left to deliver: the delivered state equals the view.
      const shape = await store.prepareDelivery(target);
      expect(await store.differences(target, shape, { scopes: [null], which: 'changed', limit: 10, exclude: [] })).toEqual([]);
      expect(await store.differences(target, shape, { scopes: [null], which: 'removed', limit: 10, exclude: [] })).toEqual([]);
    });

    it('gives the values last delivered beside the current ones, leaves out excluded records, and pages', async () => {
      await apply([...setup, obsRows([['FR', '2020', '1'], ['DE', '2020', '2'], ['IT', '2020', '3']])]);
      await deliverAll();
      await apply([obsRows([['FR', '2020', '10'], ['DE', '2020', '20'], ['IT', '2020', '30']])]);
      const shape = await store.prepareDelivery(target);
      const all = await store.differences(target, shape, { scopes: [null], which: 'changed', limit: 10, exclude: [{ AREA: 'IT', TIME_PERIOD: '2020' }] });
      expect(all.map((d) => [d.current?.['AREA'], d.current?.['OBS_VALUE'], d.delivered?.['OBS_VALUE']]).sort()).toEqual([
        ['DE', '20', '2'],
        ['FR', '10', '1'],
      ]);
      expect(await store.differences(target, shape, { scopes: [null], which: 'changed', limit: 1, exclude: [] })).toHaveLength(1);
    });

    it('delivers filtered rows under their field names, a row leaving the filter as removed', async () => {
      const items: TableSpec = {
        name: 'feed_items',
        columns: [
          { name: 'id', type: 'text' },
          { name: 'state', type: 'text' },
          { name: 'modified_raw', type: 'text' },
          { name: 'data', type: 'json' },
        ],
        primaryKey: ['id'],
      };
      const feed: DeliveryTarget = {
        id: 'feed',
        streamId: 'rpde',
        records: { relation: 'feed_items', key: ['id'], fields: [{ name: 'id', column: 'id' }, { name: 'modified', column: 'modified_raw' }, { name: 'data', column: 'data', asText: true }], where: [{ column: 'state', op: '=', value: 'updated' }] },
      };
      const write = (rows: (string | null)[][]) => store.transaction((tx) => tx.apply([{ op: 'upsert', table: 'feed_items', columns: ['id', 'state', 'modified_raw', 'data'], rows }], { targets: ['feed'], relation: 'feed_items', key: ['id'] }));
      await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: items }]));
      await write([['a', 'updated', '1', '{"x":1}'], ['b', 'updated', '1', '{"y":2}']]);
      const shape = await store.prepareDelivery(feed);
      expect(shape.fields.map((field) => [field.name, field.type, field.asText])).toEqual([
        ['id', 'text', false],
        ['modified', 'text', false],
        ['data', 'json', true],
      ]);
      const changed = await store.differences(feed, shape, { scopes: [null], which: 'changed', limit: 10, exclude: [] });
      expect(changed.map((d) => d.current).sort((x, y) => String(x?.['id']).localeCompare(String(y?.['id'])))).toEqual([
        { id: 'a', modified: '1', data: '{"x":1}' },
        { id: 'b', modified: '1', data: '{"y":2}' },
      ]);
      await store.markDelivered(feed, shape, { written: changed.map((d) => d.current as RecordRow), removed: [] });
      await write([['a', 'deleted', '2', null]]);
      const scopes = (await store.outboxEntries('feed', 10)).map((entry) => entry.scope);
      expect(scopes.at(-1)).toEqual({ id: 'a' });
      expect(await store.differences(feed, shape, { scopes: [{ id: 'a' }], which: 'changed', limit: 10, exclude: [] })).toEqual([]);
      const removed = await store.differences(feed, shape, { scopes: [{ id: 'a' }], which: 'removed', limit: 10, exclude: [] });
      expect(removed).toEqual([{ current: undefined, delivered: { id: 'a', modified: '1', data: '{"x":1}' } }]);
    });

    it('counts a row marked uncertain as changed, with the values sent and whether they are the current ones, until it is marked delivered', async () => {
      await apply([...setup, obsRows([['FR', '2020', '1'], ['DE', '2020', '2']])]);
      await deliverAll();
      const shape = await store.prepareDelivery(target);
      const changed = () => store.differences(target, shape, { scopes: [null], which: 'changed', limit: 10, exclude: [] });
      const sent = { AREA: 'FR', TIME_PERIOD: '2020', OBS_VALUE: '1', UNIT: null, TITLE: null };
      await store.markUncertain(target, shape, [sent]);
      expect(await changed()).toEqual([{ current: sent, delivered: sent, sameValues: true }]);
      // Changed again at the source: the values sent are given, to be removed from the target.
      await apply([obsRows([['FR', '2020', '10']])]);
      expect(await changed()).toEqual([{ current: { ...sent, OBS_VALUE: '10' }, delivered: sent, sameValues: false }]);
      // Removed at the source: the values sent are to be removed.
      await apply([{ op: 'deleteWhere', table: 'df_obs', keys: [{ AREA: 'FR' }] }]);
      expect(await changed()).toEqual([]);
      expect(await store.differences(target, shape, { scopes: [null], which: 'removed', limit: 10, exclude: [] })).toEqual([{ current: undefined, delivered: sent }]);
      await apply([obsRows([['FR', '2020', '1']])]);
      await store.markDelivered(target, shape, { written: [sent], removed: [] });
      expect(await changed()).toEqual([]);
      // A record never delivered differs in its values.
      await apply([obsRows([['IT', '2020', '3']])]);
      expect((await changed()).map((d) => [d.current?.['AREA'], d.delivered, d.sameValues])).toEqual([['IT', undefined, false]]);
    });

    it('refuses delivery writes made under a lease a later one superseded, and changes nothing', async () => {
      await apply([...setup, obsRows([['FR', '2020', '1']])]);
      const shape = await store.prepareDelivery(target);
      const first = await store.acquireLease('s1', 'daemon-a');
      if (first === undefined) throw new Error('no lease');
      const fence = { streamId: 's1', epoch: first.epoch };
      const sent = { AREA: 'FR', TIME_PERIOD: '2020', OBS_VALUE: '1', UNIT: null, TITLE: null };
      // Its own lease still current: written.
      await store.markUncertain(target, shape, [sent], fence);
      await first.release();
      const second = await store.acquireLease('s1', 'daemon-b');
      if (second === undefined) throw new Error('no lease');
      try {
        const [entry] = await store.outboxEntries('t1', 10);
        await expect(store.markDelivered(target, shape, { written: [sent], removed: [] }, fence)).rejects.toThrow(LeaseLostError);
        await expect(store.markUncertain(target, shape, [sent], fence)).rejects.toThrow(LeaseLostError);
        await expect(store.removeOutboxEntries('t1', [entry?.seq ?? -1], fence)).rejects.toThrow(LeaseLostError);
        // Still uncertain, and the outbox entry still there, for the new holder to deliver.
        expect(await store.differences(target, shape, { scopes: [null], which: 'changed', limit: 10, exclude: [] })).toEqual([{ current: sent, delivered: sent, sameValues: true }]);
        expect((await store.outboxEntries('t1', 10)).map((e) => e.seq)).toEqual([entry?.seq]);
        await store.markDelivered(target, shape, { written: [sent], removed: [] }, { streamId: 's1', epoch: second.epoch });
      } finally {
        await second.release();
      }
    });

    it('adds the column of uncertain rows to a delivered state made before it existed, its rows counting as acknowledged', async () => {
      await apply([...setup, obsRows([['FR', '2020', '1']])]);
      await deliverAll();
      await dropColumn(store, deliveredTableName('t1'), 'dss_uncertain');
      const shape = await store.prepareDelivery(target);
      expect(await store.differences(target, shape, { scopes: [null], which: 'changed', limit: 10, exclude: [] })).toEqual([]);
      const sent = { AREA: 'FR', TIME_PERIOD: '2020', OBS_VALUE: '1', UNIT: null, TITLE: null };
      await store.markUncertain(target, shape, [sent]);
      expect(await store.differences(target, shape, { scopes: [null], which: 'changed', limit: 10, exclude: [] })).toEqual([{ current: sent, delivered: sent, sameValues: true }]);
    });

    it('refuses records with a field named as the delivered state\'s own column', async () => {
      await store.transaction((tx) => tx.apply([{ op: 'ensureTable', spec: { name: 'odd', columns: [{ name: 'id', type: 'text' }, { name: 'DSS_Uncertain', type: 'text' }], primaryKey: ['id'] } }]));
      await expect(store.prepareDelivery({ id: 'odd', streamId: 's2', records: { relation: 'odd' } })).rejects.toThrow(/DSS_Uncertain is reserved/);
    });

    it('refuses records whose columns changed since delivery, until a restart forgets what was delivered', async () => {
      await apply([...setup, obsRows([['FR', '2020', '1']])]);
      await deliverAll();
      await apply([{ op: 'replaceTable', spec: { ...series, columns: [...series.columns, { name: 'DECIMALS', type: 'text' }] } }]);
      await expect(store.prepareDelivery(target)).rejects.toThrow(DeliveryShapeError);
      await store.restartDelivery(target);
      expect((await store.outboxEntries('t1', 10)).map((entry) => entry.scope)).toEqual([null]);
      const shape = await store.prepareDelivery(target);
      expect(shape.fields.map((field) => field.name)).toContain('DECIMALS');
      expect(await store.differences(target, shape, { scopes: [null], which: 'changed', limit: 10, exclude: [] })).toHaveLength(1);
    });

    it('summarises each outbox (depth, oldest change) and keeps the targets\' bookkeeping', async () => {
      await apply([...setup, obsRows([['FR', '2020', '1'], ['DE', '2020', '2']])]);
      const [summary] = await store.outboxSummaries();
      expect(summary).toMatchObject({ target: 't1', depth: 2 });
      expect(Date.parse(summary?.oldestAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
      await deliverAll();
      expect(await store.outboxSummaries()).toEqual([]);
      const [state] = await store.targetStates();
      expect(state).toMatchObject({ target: 't1', streamId: 's1', delivered: 2, restartPending: false, setAside: [] });
      await store.writeTargetState({ ...(state as NonNullable<typeof state>), lastError: 'HTTP 400', consecutiveFailures: 3, setAside: ['FR.2020: too big'] });
      expect((await store.targetStates())[0]).toMatchObject({ lastError: 'HTTP 400', consecutiveFailures: 3, delivered: 2, setAside: ['FR.2020: too big'] });
    });
  });
}
