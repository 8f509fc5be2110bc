import type { Cell } from '../../core/tables.js';

/** Rows of one upsert that omit the same cells, so they share one statement. */
export interface UpsertGroup {
  /** Positions, in the operation's `columns`, of the cells every row of the group gives. */
  readonly present: readonly number[];
  readonly rows: (readonly Cell[])[];
}

/**
 * Splits an upsert's rows by which cells they omit, since an omitted cell must not be written and
 * a statement writes a fixed set of columns. Rows are checked on the way (width, key cells).
 *
 * Groups run one after the other, which reorders rows; that is only harmless while no key sits in
 * two groups (for one key, the later row must win). When a key shows up again under another mask,
 * the groups gathered so far are closed and a new round starts, so order is kept where it matters.
 */
export function groupByOmitted(table: string, columns: readonly string[], rows: readonly (readonly Cell[])[], keyPositions: readonly number[]): UpsertGroup[] {
  const width = columns.length;
  let omits = false;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as readonly Cell[];
    if (row.length !== width) {
      throw new Error(`table ${table}: upsert row ${r} has ${row.length} cells for ${width} columns`);
    }
    for (const position of keyPositions) {
      const cell = row[position];
      if (cell === undefined || cell === null) {
        throw new Error(`table ${table}: upsert row ${r} has no value for key column ${columns[position]}`);
      }
    }
    if (!omits) {
      for (let c = 0; c < width; c++) {
        if (row[c] === undefined) {
          omits = true;
          break;
        }
      }
    }
  }
  const all = columns.map((_, position) => position);
  if (!omits) return rows.length === 0 ? [] : [{ present: all, rows: rows.slice() }];

  const result: UpsertGroup[] = [];
  let round = new Map<number | string, UpsertGroup>();
  let maskOfKey = new Map<string, number | string>();
  for (const row of rows) {
    const mask = maskOf(row, width);
    let key = '';
    for (const position of keyPositions) key += `${keyText(row[position])}\u0000`;
    const earlier = maskOfKey.get(key);
    if (earlier !== undefined && earlier !== mask) {
      result.push(...round.values());
      round = new Map();
      maskOfKey = new Map();
    }
    maskOfKey.set(key, mask);
    let group = round.get(mask);
    if (!group) {
      group = { present: all.filter((position) => row[position] !== undefined), rows: [] };
      round.set(mask, group);
    }
    group.rows.push(row);
  }
  result.push(...round.values());
  return result;
}

/** Which cells are omitted: a bit set while it fits in a small integer (the usual case), else text. */
function maskOf(row: readonly Cell[], width: number): number | string {
  if (width <= 30) {
    let mask = 0;
    for (let c = 0; c < width; c++) if (row[c] === undefined) mask |= 1 << c;
    return mask;
  }
  let mask = '';
  for (let c = 0; c < width; c++) mask += row[c] === undefined ? '0' : '1';
  return mask;
}

/** Values the engine would store as the same key must give the same text (1, 1n, true and '1' may all be 1). */
function keyText(cell: Cell): string {
  if (typeof cell === 'string') return cell;
  if (typeof cell === 'boolean') return cell ? '1' : '0';
  return String(cell);
}
