/**
 * How a mirror differs from what it must hold, counted in rows: `lost` rows the source has and the
 * mirror lacks, `extra` rows the mirror has beyond the source's (a row doubled, a deletion missed,
 * a stale version kept). Both canonical forms (Testbed.expected / mirrored) are flattened to rows:
 * an array's elements, an object's fields by name, recursively.
 */
export function rowDifference(expected: unknown, mirrored: unknown): { lost: number; extra: number } {
  const want = countRows(expected);
  const have = countRows(mirrored);
  let lost = 0;
  let extra = 0;
  for (const [row, count] of want) lost += Math.max(0, count - (have.get(row) ?? 0));
  for (const [row, count] of have) extra += Math.max(0, count - (want.get(row) ?? 0));
  return { lost, extra };
}

function countRows(value: unknown): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (row: string): void => {
    counts.set(row, (counts.get(row) ?? 0) + 1);
  };
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) for (const element of node) add(`${path}${JSON.stringify(element)}`);
    else if (typeof node === 'object' && node !== null) for (const [key, child] of Object.entries(node)) walk(child, `${path}${key}/`);
    else if (node !== undefined) add(`${path}${JSON.stringify(node)}`);
  };
  walk(value, '');
  return counts;
}
