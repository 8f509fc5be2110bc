import type { Cell } from '../../core/tables.js';

/**
 * Cuts rows into consecutive chunks in which no key appears twice, each at most `maxRows` long.
 * Set-based upserts (PostgreSQL's INSERT ... SELECT ... ON CONFLICT, SQL Server's MERGE) refuse to
 * touch one row twice in a statement; running the chunks in order keeps the later write winning.
 */
export function uniqueKeyChunks(rows: readonly (readonly Cell[])[], keyPositions: readonly number[], maxRows: number): (readonly Cell[])[][] {
  const chunks: (readonly Cell[])[][] = [];
  let current: (readonly Cell[])[] = [];
  let keys = new Set<string>();
  for (const row of rows) {
    let key = '';
    for (const position of keyPositions) {
      const cell = row[position];
      key += `${typeof cell === 'boolean' ? (cell ? '1' : '0') : String(cell)}\u0000`;
    }
    if (current.length >= maxRows || keys.has(key)) {
      chunks.push(current);
      current = [];
      keys = new Set();
    }
    keys.add(key);
    current.push(row);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
