import type { Cell } from '../../core/tables.js';
import { bindValue, type BindValue } from './sqlite-handle.js';

/**
 * Cells of a bulk upsert packed to cross to the writer thread: the strings concatenated into one
 * text and each cell's length in an Int32Array (transferred, not copied); the few cells that are not
 * strings (numbers, bigints, booleans as 1 and 0) on the side, in order. A cell equal to the one
 * above it (the same column of the previous row) is only marked: in a full load most cells repeat
 * the row before (an SDMX series' dimensions and attributes), and neither thread then copies it.
 * Structured cloning of the cells as an array of strings costs about twice as much on the sending
 * thread, and lengths need no separator that a value might contain.
 */
export interface PackedCells {
  readonly text: string;
  /** Per cell: its length in `text`, or NULL_CELL, SAME_CELL, OTHER_CELL (the next value of `others`). */
  readonly lengths: Int32Array;
  readonly others: readonly BindValue[] | undefined;
  /** Cells per row. */
  readonly width: number;
}

const NULL_CELL = -1;
const OTHER_CELL = -2;
const SAME_CELL = -3;

/** The cells at `positions` of rows `from` to `to`, row after row: this loop runs once per cell of a full load. */
export function packRows(rows: readonly (readonly Cell[])[], positions: readonly number[], from: number, to: number): PackedCells {
  const width = positions.length;
  const lengths = new Int32Array((to - from) * width);
  const strings: string[] = [];
  let others: BindValue[] | undefined;
  let k = 0;
  let above: readonly Cell[] | undefined;
  for (let r = from; r < to; r++) {
    const row = rows[r] as readonly Cell[];
    for (let c = 0; c < width; c++, k++) {
      const position = positions[c] as number;
      const cell = row[position];
      if (above !== undefined && cell === above[position] && cell !== undefined) {
        lengths[k] = SAME_CELL;
      } else if (typeof cell === 'string') {
        lengths[k] = cell.length;
        strings.push(cell);
      } else if (cell === null || cell === undefined) {
        lengths[k] = NULL_CELL;
      } else {
        lengths[k] = OTHER_CELL;
        (others ??= []).push(bindValue(cell));
      }
    }
    above = row;
  }
  return { text: strings.join(''), lengths, others, width };
}

/** Reads packed cells in order, into the parameter arrays of the statements that bind them. */
export class CellReader {
  private at = 0;
  private k = 0;
  private other = 0;
  /** The last row read, for the cells marked equal to the one above. */
  private readonly above: BindValue[];

  constructor(private readonly packed: PackedCells) {
    this.above = new Array<BindValue>(packed.width).fill(null);
  }

  /** The next `rows` rows' cells into `parameters`, from index 0. */
  fill(parameters: BindValue[], rows: number): void {
    const { text, lengths, others, width } = this.packed;
    const above = this.above;
    let { at, k } = this;
    let i = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < width; c++, k++, i++) {
        const length = lengths[k] as number;
        let value: BindValue;
        if (length >= 0) {
          value = text.slice(at, at + length);
          at += length;
        } else if (length === SAME_CELL) {
          value = above[c] as BindValue;
        } else {
          value = length === NULL_CELL ? null : (others?.[this.other++] as BindValue);
        }
        parameters[i] = value;
        above[c] = value;
      }
    }
    this.at = at;
    this.k = k;
  }
}
