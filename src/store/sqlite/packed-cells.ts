import type { Cell } from '../../core/tables.js';
import { bindValue, type BindValue } from './sqlite-handle.js';

/**
 * Cells of a bulk upsert packed to cross to the writer thread: the strings concatenated into one
 * text and each cell's length in an Int32Array (transferred, not copied); the few cells that are not
 * strings (numbers, bigints, booleans as 1 and 0) on the side, in order. Structured cloning of the
 * cells as an array of strings costs about twice as much on the sending thread, and lengths need no
 * separator that a value might contain.
 */
export interface PackedCells {
  readonly text: string;
  /** Per cell: its length in `text`, NULL_CELL for NULL, OTHER_CELL for the next value of `others`. */
  readonly lengths: Int32Array;
  readonly others: readonly BindValue[] | undefined;
}

const NULL_CELL = -1;
const OTHER_CELL = -2;

/** The cells at `positions` of rows `from` to `to`, row after row: this loop runs once per cell of a full load. */
export function packRows(rows: readonly (readonly Cell[])[], positions: readonly number[], from: number, to: number): PackedCells {
  const width = positions.length;
  const lengths = new Int32Array((to - from) * width);
  const strings = new Array<string>(lengths.length);
  let others: BindValue[] | undefined;
  let k = 0;
  let s = 0;
  for (let r = from; r < to; r++) {
    const row = rows[r] as readonly Cell[];
    for (let c = 0; c < width; c++, k++) {
      const cell = row[positions[c] as number];
      if (typeof cell === 'string') {
        lengths[k] = cell.length;
        strings[s++] = cell;
      } else if (cell === null || cell === undefined) {
        lengths[k] = NULL_CELL;
      } else {
        lengths[k] = OTHER_CELL;
        (others ??= []).push(bindValue(cell));
      }
    }
  }
  strings.length = s;
  return { text: strings.join(''), lengths, others };
}

/** Reads packed cells in order, into the parameter arrays of the statements that bind them. */
export class CellReader {
  private at = 0;
  private k = 0;
  private other = 0;

  constructor(private readonly packed: PackedCells) {}

  /** The next `count` cells into `parameters`, from index 0. */
  fill(parameters: BindValue[], count: number): void {
    const { text, lengths, others } = this.packed;
    let { at, k } = this;
    for (let i = 0; i < count; i++, k++) {
      const length = lengths[k] as number;
      if (length >= 0) {
        parameters[i] = text.slice(at, at + length);
        at += length;
      } else {
        parameters[i] = length === NULL_CELL ? null : (others?.[this.other++] as BindValue);
      }
    }
    this.at = at;
    this.k = k;
  }
}
