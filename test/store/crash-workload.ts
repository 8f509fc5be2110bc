import type { ChangeOp } from '../../src/core/ops.js';
import type { Cell, TableSpec } from '../../src/core/tables.js';

/**
 * The crash test's data: generation g of the table is a pure function of g, so after any kill the
 * parent can tell exactly what the table must hold for the cursor it finds.
 */
export const KEYS = 2400;
export const BATCH = 200;

export const crashTable: TableSpec = {
  name: 'crash_obs',
  columns: [
    { name: 'series', type: 'text' },
    { name: 'period', type: 'text' },
    { name: 'value', type: 'text' },
    { name: 'gen', type: 'integer' },
    { name: 'flag', type: 'boolean' },
  ],
  primaryKey: ['series', 'period'],
};

export interface CrashRow {
  series: string;
  period: string;
  value: string;
  gen: number;
  flag: boolean;
}

function keyOf(index: number): { series: string; period: string } {
  return { series: `S${String(Math.floor(index / 12)).padStart(4, '0')}`, period: `2020-${String((index % 12) + 1).padStart(2, '0')}` };
}

/** About one key in five is absent from a generation, a different fifth each time. */
function present(index: number, gen: number): boolean {
  return (index * 7 + gen * 13) % 5 !== 0 || gen === 0;
}

export function rowsOf(gen: number): CrashRow[] {
  const rows: CrashRow[] = [];
  for (let index = 0; index < KEYS; index++) {
    if (!present(index, gen)) continue;
    rows.push({ ...keyOf(index), value: `g${gen}:${index}`, gen, flag: (index + gen) % 2 === 0 });
  }
  return rows;
}

/** Batches that take generation `from` to `from + 1`: upserts of a key range, then deletes of the keys leaving it. */
export function transitionBatches(from: number): ChangeOp[][] {
  const to = from + 1;
  const batches: ChangeOp[][] = [];
  for (let start = 0; start < KEYS; start += BATCH) {
    const upserts: Cell[][] = [];
    const deletes: { series: string; period: string }[] = [];
    for (let index = start; index < Math.min(KEYS, start + BATCH); index++) {
      const key = keyOf(index);
      if (present(index, to)) upserts.push([key.series, key.period, `g${to}:${index}`, to, (index + to) % 2 === 0]);
      else if (present(index, from)) deletes.push(key);
    }
    batches.push([
      { op: 'upsert', table: crashTable.name, columns: crashTable.columns.map((column) => column.name), rows: upserts },
      { op: 'deleteWhere', table: crashTable.name, keys: deletes },
    ]);
  }
  return batches;
}
