import { afterEach, beforeEach } from 'vitest';
import type { ChangeOp } from '../../src/core/ops.js';
import type { Cell, ColumnType, TableSpec } from '../../src/core/tables.js';

/**
 * The set-up of a suite that wants a store of its own for each test: `open` before each test of
 * the describe this is called in (a fresh file, schema or fake server), `use` to take what it
 * gave, and its `close` after the test.
 */
export function openForEachTest<T extends { close(): Promise<void> }>(open: () => Promise<T>, use: (opened: T) => void): void {
  let opened: T | undefined;
  beforeEach(async () => {
    opened = await open();
    use(opened);
  });
  afterEach(async () => {
    await opened?.close();
    opened = undefined;
  });
}

/** The observation table the store suites write: a three-part key, a value (of `valueType`) and a status. */
export function obsTable(valueType: ColumnType): TableSpec {
  return {
    name: 'obs',
    columns: [
      { name: 'REF_AREA', type: 'text' },
      { name: 'FREQ', type: 'text' },
      { name: 'TIME_PERIOD', type: 'text' },
      { name: 'OBS_VALUE', type: valueType },
      { name: 'OBS_STATUS', type: 'text' },
    ],
    primaryKey: ['REF_AREA', 'FREQ', 'TIME_PERIOD'],
  };
}

/** Upserts rows of obsTable, their cells in its column order. */
export function upsertObs(rows: Cell[][]): ChangeOp {
  return { op: 'upsert', table: 'obs', columns: ['REF_AREA', 'FREQ', 'TIME_PERIOD', 'OBS_VALUE', 'OBS_STATUS'], rows };
}
