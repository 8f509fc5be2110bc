import { parse } from 'csv-parse/sync';
import type { DataflowStructure } from '../../../src/simulators/nsi/dataflow-structure.js';
import type { NsiSnapshot, SnapshotEntry } from '../../../src/simulators/nsi/snapshot.js';

/**
 * A deliberately small, slow and separate reading of the action rules in docs/sdmx.md, used to check the
 * simulator's answers: apply an SDMX-CSV 2.0 message to a copy and compare with the snapshot.
 * It shares nothing with the simulator but the structure description.
 */

type Values = Record<string, string>;
type Cell = string | undefined;

export class ReferenceMirror {
  private obs = new Map<string, { key: string[]; values: Values }>();
  private attrs = new Map<string, Map<string, { key: string[]; values: Values }>>();
  private dataflowAttrs: Values = {};
  private meta = new Map<string, { key: string[]; values: Values }>();

  constructor(private readonly s: DataflowStructure) {
    for (const a of s.attachments) if (a.level !== 'dataflow') this.attrs.set(a.name, new Map());
  }

  applyData(text: string): void {
    for (const row of rowsOf(text)) this.applyDataRow(row);
  }

  applyMetadata(text: string): void {
    for (const row of rowsOf(text)) this.applyMetadataRow(row);
  }

  snapshot(): NsiSnapshot {
    const sorted = (m: Map<string, { key: string[]; values: Values }>): SnapshotEntry[] =>
      [...m.values()].map((e) => ({ key: e.key, values: { ...e.values } }));
    const attributes: Record<string, SnapshotEntry[]> = {};
    for (const [name, m] of this.attrs) attributes[name] = sortedByKey(sorted(m));
    return {
      observations: sortedByKey(sorted(this.obs)),
      attributes,
      dataflowAttributes: { ...this.dataflowAttrs },
      metadata: sortedByKey(sorted(this.meta)),
    };
  }

  private applyDataRow(row: Map<string, Cell>): void {
    const s = this.s;
    const action = actionOf(row.get('ACTION'));
    const dims = s.dimensions.map((d) => row.get(d));
    const given = dims.filter((d) => d !== undefined).length;
    const obsCells = s.observationComponents.map((c) => [c, row.get(c)] as const);
    const key = JSON.stringify(dims);
    if (action === 'D') {
      const present = [...row.entries()].filter(([c, v]) => v !== undefined && s.role(c) && s.role(c)!.kind !== 'dimension').map(([c]) => c);
      const inScope = (k: readonly string[]): boolean => dims.every((d, i) => d === undefined || d === k[i]);
      for (const [id, o] of [...this.obs]) {
        if (!inScope(o.key)) continue;
        if (present.length === 0) this.obs.delete(id);
        else {
          for (const c of present) delete o.values[c];
          if (Object.keys(o.values).length === 0) this.obs.delete(id);
        }
      }
      for (const a of s.attachments) {
        const scoped = dims.every((d, i) => d === undefined || a.dimensionIndexes.includes(i));
        if (!scoped) continue;
        const targets = present.length === 0 ? a.attributes : a.attributes.filter((x) => present.includes(x));
        if (targets.length === 0) continue;
        if (a.level === 'dataflow') {
          for (const t of targets) delete this.dataflowAttrs[t];
          continue;
        }
        const m = this.attrs.get(a.name)!;
        for (const [id, r] of [...m]) {
          if (!a.dimensionIndexes.every((d, j) => dims[d] === undefined || dims[d] === r.key[j])) continue;
          for (const t of targets) delete r.values[t];
          if (Object.keys(r.values).length === 0) m.delete(id);
        }
      }
      return;
    }
    if (given === dims.length) {
      const presentObs = obsCells.filter(([, v]) => v !== undefined);
      if (action === 'R') {
        if (presentObs.length === 0) this.obs.delete(key);
        else this.obs.set(key, { key: dims as string[], values: Object.fromEntries(presentObs) as Values });
      } else if (presentObs.length > 0) {
        const o = this.obs.get(key) ?? { key: dims as string[], values: {} };
        for (const [c, v] of presentObs) o.values[c] = v!;
        this.obs.set(key, o);
      }
    } else if (obsCells.some(([, v]) => v !== undefined)) {
      throw new Error(`reference applier: observation values on a row without the full key: ${JSON.stringify([...row])}`);
    }
    for (const a of s.attachments) {
      const present = a.attributes.filter((x) => row.get(x) !== undefined);
      if (present.length === 0) continue;
      if (a.level === 'dataflow') {
        for (const x of present) this.dataflowAttrs[x] = row.get(x)!;
        continue;
      }
      const k = a.dimensionIndexes.map((d) => dims[d]);
      if (k.some((v) => v === undefined)) throw new Error(`reference applier: ${a.name} attribute without its key`);
      const m = this.attrs.get(a.name)!;
      const id = JSON.stringify(k);
      const r = m.get(id) ?? { key: k as string[], values: {} };
      for (const x of present) r.values[x] = row.get(x)!;
      m.set(id, r);
    }
  }

  private applyMetadataRow(row: Map<string, Cell>): void {
    const s = this.s;
    const action = actionOf(row.get('ACTION'));
    const dims = s.dimensions.map((d) => row.get(d));
    const cells = s.metadataAttributes.map((c) => [c, row.get(c)] as const).filter(([, v]) => v !== undefined);
    if (action === 'D') {
      for (const [id, m] of [...this.meta]) {
        const hit = dims.every((d, i) => d === undefined || (d === '*' ? m.key[i] !== '~' : d === m.key[i]));
        if (!hit) continue;
        if (cells.length === 0) this.meta.delete(id);
        else {
          for (const [c] of cells) delete m.values[c];
          if (Object.keys(m.values).length === 0) this.meta.delete(id);
        }
      }
      return;
    }
    const id = JSON.stringify(dims);
    if (action === 'R') {
      if (cells.length === 0) this.meta.delete(id);
      else this.meta.set(id, { key: dims as string[], values: Object.fromEntries(cells) as Values });
      return;
    }
    if (cells.length === 0) return;
    const m = this.meta.get(id) ?? { key: dims as string[], values: {} };
    for (const [c, v] of cells) m.values[c] = v!;
    this.meta.set(id, m);
  }
}

function sortedByKey(entries: SnapshotEntry[]): SnapshotEntry[] {
  return entries.sort((x, y) => {
    for (let i = 0; i < Math.min(x.key.length, y.key.length); i += 1) {
      if (x.key[i] !== y.key[i]) return x.key[i]! < y.key[i]! ? -1 : 1;
    }
    return x.key.length - y.key.length;
  });
}

function actionOf(cell: Cell): 'M' | 'R' | 'D' {
  if (cell === undefined || cell === 'I' || cell === 'A' || cell === 'M') return 'M';
  if (cell === 'R' || cell === 'D') return cell;
  throw new Error(`reference applier: unknown action ${cell}`);
}

/** Rows as column -> cell, with `undefined` for an unquoted empty cell and '' for `""`. */
export function rowsOf(text: string): Map<string, Cell>[] {
  const table = parse(text, {
    cast: (value, context) => (context.quoting ? value : value === '' ? undefined : value),
    relax_column_count: false,
  }) as Cell[][];
  const [header, ...rows] = table;
  if (!header) return [];
  return rows.map((cells) => new Map(header.map((h, i) => [h ?? '', cells[i]])));
}
