import type { ChangeOp } from '../../core/ops.js';
import type { Cell, PartialKey } from '../../core/tables.js';

type PendingOp =
  | { op: 'upsert'; table: string; columns: readonly string[]; keyLength: number; rows: Cell[][]; rowOfKey: Map<string, number> | undefined }
  | { op: 'deleteWhere'; table: string; keys: PartialKey[] }
  | { op: 'setNull'; table: string; keys: PartialKey[]; columns: readonly string[] }
  | { op: 'prune'; table: string; keys: PartialKey[]; valueColumns: readonly string[] };

/**
 * Collects the operations of a run of rows, merging each new one into the last operation on the
 * same table when both are of one kind (and name the same columns).
 *
 * Every operation touches exactly one table, so operations on different tables commute: keeping the
 * order per table keeps the result of applying the rows one by one. Merging across other tables'
 * operations is what lets a CSV that repeats series attributes on every observation row become one
 * observation upsert and one series upsert per batch instead of thousands of alternating ones.
 */
export class OpBatcher {
  private readonly pending: PendingOp[] = [];
  private readonly lastOfTable = new Map<string, PendingOp>();
  private readonly pairOfTable = new Map<string, { setNull: Extract<PendingOp, { op: 'setNull' }>; prune: Extract<PendingOp, { op: 'prune' }> }>();

  /** `row` holds the key (its first `keyLength` cells) then the other columns; undefined = omitted. */
  upsert(table: string, columns: readonly string[], row: Cell[], keyLength: number): void {
    const last = this.lastOfTable.get(table);
    let target: Extract<PendingOp, { op: 'upsert' }>;
    if (last?.op === 'upsert' && sameColumns(last.columns, columns)) {
      target = last;
    } else {
      target = { op: 'upsert', table, columns, keyLength, rows: [], rowOfKey: undefined };
      this.push(target);
    }
    const { rows } = target;
    // While keys come in strictly ascending order (a full load: series after series, periods in
    // order) none can repeat, so no key text is built or hashed; the first key out of order
    // indexes the rows so far and every later key is looked up.
    if (target.rowOfKey === undefined) {
      const previous = rows[rows.length - 1];
      if (previous === undefined || keyAfter(row, previous, keyLength)) {
        rows.push(row);
        return;
      }
      target.rowOfKey = new Map(rows.map((earlier, index) => [keyText(earlier, keyLength), index]));
    }
    const key = keyText(row, keyLength);
    const earlier = target.rowOfKey.get(key);
    if (earlier === undefined) {
      target.rowOfKey.set(key, rows.length);
      rows.push(row);
      return;
    }
    // The same key twice in one operation: fold the later row into the earlier one, as applying both would.
    const merged = rows[earlier] as Cell[];
    for (let c = keyLength; c < row.length; c += 1) if (row[c] !== undefined) merged[c] = row[c];
  }

  deleteWhere(table: string, key: PartialKey): void {
    const last = this.lastOfTable.get(table);
    if (last?.op === 'deleteWhere') last.keys.push(key);
    else this.push({ op: 'deleteWhere', table, keys: [key] });
  }

  /**
   * Nulls `columns` within `key`, then drops the rows left without any value. Consecutive pairs on
   * one table share their two operations: nulling k1 and k2 before pruning both leaves the same rows
   * as pruning after each, because no stored row is ever without a value.
   */
  nullAndPrune(table: string, key: PartialKey, columns: readonly string[], valueColumns: readonly string[]): void {
    const last = this.lastOfTable.get(table);
    const pair = this.pairOfTable.get(table);
    if (last !== undefined && pair !== undefined && pair.prune === last && sameColumns(pair.setNull.columns, columns) && sameColumns(pair.prune.valueColumns, valueColumns)) {
      pair.setNull.keys.push(key);
      pair.prune.keys.push(key);
      return;
    }
    const setNull: Extract<PendingOp, { op: 'setNull' }> = { op: 'setNull', table, keys: [key], columns };
    const prune: Extract<PendingOp, { op: 'prune' }> = { op: 'prune', table, keys: [key], valueColumns };
    this.push(setNull);
    this.push(prune);
    this.pairOfTable.set(table, { setNull, prune });
  }

  get size(): number {
    return this.pending.length;
  }

  ops(): ChangeOp[] {
    return this.pending.map((pending): ChangeOp => {
      switch (pending.op) {
        case 'upsert':
          return { op: 'upsert', table: pending.table, columns: pending.columns, rows: pending.rows };
        case 'deleteWhere':
          return { op: 'deleteWhere', table: pending.table, keys: pending.keys };
        case 'setNull':
          return { op: 'setNull', table: pending.table, keys: pending.keys, columns: pending.columns };
        case 'prune':
          return { op: 'prune', table: pending.table, keys: pending.keys, valueColumns: pending.valueColumns };
      }
    });
  }

  private push(op: PendingOp): void {
    this.pending.push(op);
    this.lastOfTable.set(op.table, op);
  }
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

/**
 * One text per key, the same for keys the store would take as one (cells compared as text). Each
 * cell's length goes first, so that no value, whatever characters it holds, can make two keys meet.
 */
function keyText(row: readonly Cell[], keyLength: number): string {
  let text = '';
  for (let c = 0; c < keyLength; c += 1) {
    const cell = String(row[c]);
    text += `${cell.length}:${cell}`;
  }
  return text;
}

/** Whether `row`'s key comes strictly after `previous`'s, comparing cell by cell as keyText tells keys apart. */
function keyAfter(row: readonly Cell[], previous: readonly Cell[], keyLength: number): boolean {
  for (let c = 0; c < keyLength; c += 1) {
    const cell = row[c];
    const before = previous[c];
    if (cell === before) continue;
    const text = typeof cell === 'string' ? cell : String(cell);
    const beforeText = typeof before === 'string' ? before : String(before);
    if (text !== beforeText) return text > beforeText;
  }
  return false;
}
