import type { ChangeOp, UpsertOp } from '../../core/ops.js';
import type { RecordView } from '../../core/records.js';
import type { Cell, TableSpec } from '../../core/tables.js';
import type { RpdeItem } from './page.js';

/**
 * The mirror of one RPDE feed: one row per item id, the latest version seen.
 *
 * - `id`: the RPDE id as text (a numeric id is kept as its digits; `1` and `"1"` are one key).
 * - `modified`: a sortable text key (modified-key.ts) so that the store's "newer wins" guard
 *   compares integers of any size and strings correctly; `modified_raw` is the value as written.
 * - `state`: `updated`, or `deleted` for a tombstone (data NULL), kept `tombstoneRetention` long so
 *   that an older copy of the item arriving late (a stale CDN page, a replay) cannot resurrect it.
 * - `seen_pass`: the full pass (its start time in ms) that last saw the item; a resync tombstones
 *   the rows its pass did not see.
 * - `changed_at` / `deleted_at`: when the mirror applied the version / the deletion.
 */
export const ITEM_COLUMNS = [
  'id',
  'kind',
  'state',
  'modified',
  'modified_raw',
  'data',
  'seen_pass',
  'changed_at',
  'deleted_at',
] as const;

export function itemsTableSpec(name: string): TableSpec {
  return {
    name,
    columns: [
      { name: 'id', type: 'text' },
      { name: 'kind', type: 'text' },
      { name: 'state', type: 'text' },
      { name: 'modified', type: 'text' },
      { name: 'modified_raw', type: 'text' },
      { name: 'data', type: 'json' },
      { name: 'seen_pass', type: 'integer' },
      { name: 'changed_at', type: 'timestamp' },
      { name: 'deleted_at', type: 'timestamp' },
    ],
    primaryKey: ['id'],
  };
}

/** An item as a record: live items only (a tombstone is a deleted record), `modified` as the feed wrote it, data as JSON text. */
export function itemRecords(table: string): RecordView {
  return {
    relation: table,
    key: ['id'],
    fields: [
      { name: 'id', column: 'id' },
      { name: 'kind', column: 'kind' },
      { name: 'modified', column: 'modified_raw' },
      { name: 'data', column: 'data', asText: true },
    ],
    where: [{ column: 'state', op: '=', value: 'updated' }],
  };
}

/**
 * Upserts a page's items, newest wins: the store leaves a row alone when its stored `modified`
 * is greater, so an older version never overwrites a newer one or resurrects a tombstone.
 */
export function upsertItemsOp(table: string, items: readonly RpdeItem[], pass: number, now: string): UpsertOp {
  const rows: Cell[][] = items.map((item) =>
    item.state === 'updated'
      ? [item.id, item.kind, 'updated', item.modified.key, item.modified.raw, item.data, pass, now, null]
      : [item.id, item.kind, 'deleted', item.modified.key, item.modified.raw, null, pass, now, now],
  );
  return { op: 'upsert', table, columns: ITEM_COLUMNS, rows, unlessStoredNewer: 'modified' };
}

/**
 * Stamps items as seen by the pass and changes nothing else: the upsert stamps only the rows it
 * writes, and the newer-wins guard refuses an item older than its stored copy although the feed
 * still lists it. One statement per item, as the op vocabulary filters by comparison only; it is
 * needed only for pages with a refused item, which a conformant feed never serves.
 */
export function markSeenOps(table: string, items: readonly RpdeItem[], pass: number): ChangeOp[] {
  return items.map((item) => ({
    op: 'updateWhere',
    table,
    set: { seen_pass: pass },
    where: [
      { column: 'id', op: '=', value: item.id },
      { column: 'seen_pass', op: '<', value: pass },
    ],
  }));
}

/**
 * End of a full pass: items the pass did not see vanished without a `deleted` state (past events
 * pruned by the publisher, deletions older than its retention); tombstone them.
 */
export function sweepUnseenOp(table: string, pass: number, now: string): ChangeOp {
  return {
    op: 'updateWhere',
    table,
    set: { state: 'deleted', data: null, deleted_at: now, changed_at: now },
    where: [
      { column: 'state', op: '=', value: 'updated' },
      { column: 'seen_pass', op: '<', value: pass },
    ],
  };
}

/**
 * Drops tombstones older than the retention. The op vocabulary deletes by equality only, so the
 * old tombstones are first marked (state NULL, which no live row has) and then pruned.
 */
export function pruneTombstonesOps(table: string, deletedBefore: string): ChangeOp[] {
  return [
    {
      op: 'updateWhere',
      table,
      set: { state: null },
      where: [
        { column: 'state', op: '=', value: 'deleted' },
        { column: 'deleted_at', op: '<', value: deletedBefore },
      ],
    },
    { op: 'prune', table, keys: [{}], valueColumns: ['state'] },
  ];
}
