import type { ChangeOp } from '../../core/ops.js';
import type { Cell, PartialKey } from '../../core/tables.js';
import { formatRef, type SdmxCsvHeader, type SdmxCsvRow, type StructureRef } from './csv-reader.js';
import { DATASET_KEY_COLUMN, DATASET_KEY_VALUE, type DataflowLayout, type LayoutTable } from './layout.js';
import { formatArtefact, type DataStructure } from './structure.js';
import { OpBatcher } from './op-batcher.js';

/**
 * Turns SDMX-CSV rows into store operations with .Stat's action semantics (docs/sdmx.md,
 * "Applying actions"), row by row in file order:
 *
 * - a row is an observation row (every dimension given), a partial-key row (some) or a
 *   dataflow-level row (none);
 * - R on an observation row replaces the measures and observation-level attributes (omitted ones
 *   become NULL; none given deletes the observation) and merges the higher-level attributes given;
 * - R or M on a partial-key or dataflow-level row, and M on any row, merge the values given;
 * - a switched-off dimension (`~`) is not given: on R and M rows it reads like an omitted one;
 * - D deletes within the scope of the dimensions given (an omitted dimension matches any value):
 *   everything in the scope when no other component is given, else only the components given,
 *   dropping the rows left without any value. Attribute rows are inside a scope when their key
 *   holds every scoped dimension (a series is inside `DIM_2=B`, the group of DIM_2 too, but not
 *   inside `DIM_1=A, DIM_2=B`: that group value is shared with other series) and no switched-off
 *   one; observations only when no dimension is switched off; dataflow-level attributes only
 *   inside the empty scope.
 */
export class SdmxActionMapper {
  private readonly plan: HeaderPlan;
  private readonly acceptedRefs = new WeakSet<StructureRef>();

  constructor(
    private readonly structure: DataStructure,
    private readonly layout: DataflowLayout,
    header: SdmxCsvHeader,
    private readonly options: MapperOptions,
  ) {
    this.plan = planHeader(structure, layout, header, options.label);
  }

  /** The operations for a batch of rows, in an order equivalent to applying the rows one by one. */
  map(rows: readonly SdmxCsvRow[]): ChangeOp[] {
    const out = new OpBatcher();
    for (const row of rows) {
      this.checkStructure(row);
      if (row.action === 'D') this.delete(row, out);
      else this.write(row, out);
    }
    return out.ops();
  }

  private write(row: SdmxCsvRow, out: OpBatcher): void {
    const { plan } = this;
    const dimensions = plan.dimensionCells;
    let given = 0;
    for (let d = 0; d < dimensions.length; d += 1) {
      if (dimensionValue(row, dimensions[d] as number) !== undefined) given += 1;
    }
    const full = given === dimensions.length;
    const obs = plan.observations;

    if (full) {
      // The key, then the values, in one array: the row the upsert takes, built once per observation.
      const keyLength = dimensions.length;
      const cells = new Array<Cell>(keyLength + obs.cells.length);
      for (let d = 0; d < keyLength; d += 1) cells[d] = row.cells[dimensions[d] as number];
      let present = 0;
      for (let j = 0; j < obs.cells.length; j += 1) {
        const k = obs.cells[j] as number;
        const cell = k >= 0 ? row.cells[k] : undefined;
        if (cell !== undefined) present += 1;
        cells[keyLength + j] = cell === undefined && row.action === 'R' ? null : cell;
      }
      if (row.action === 'R' && present === 0) {
        out.deleteWhere(obs.table.spec.name, keyOf(obs.table.dimensions, cells));
      } else if (present > 0) {
        out.upsert(obs.table.spec.name, obs.columns, cells, keyLength);
      }
    } else {
      const stray = plan.observations.cells.find((k) => k >= 0 && row.cells[k] !== undefined);
      if (stray !== undefined) {
        throw this.error(
          row,
          `${plan.header.components[stray]} is given on a row without every dimension (${this.missingDimensions(row).join(', ')} omitted); measures and observation-level attributes need the full key`,
        );
      }
    }

    // Higher-level attributes are merged whatever the action: omitted ones stay as they are.
    for (const target of plan.attributeTables) {
      let present = 0;
      for (const k of target.cells) if (k >= 0 && row.cells[k] !== undefined) present += 1;
      if (present === 0) continue;
      const key = new Array<Cell>(target.dimensionCells.length);
      for (let d = 0; d < target.dimensionCells.length; d += 1) {
        const value = dimensionValue(row, target.dimensionCells[d] as number);
        if (value === undefined) {
          const attribute = target.cells.map((c) => (c >= 0 && row.cells[c] !== undefined ? plan.header.components[c] : undefined)).find(Boolean);
          throw this.error(
            row,
            `attribute ${attribute} is attached to ${target.table.dimensions.join(', ')} but the row omits ${target.table.dimensions[d]}`,
          );
        }
        key[d] = value;
      }
      const values = target.cells.map((k) => (k >= 0 ? row.cells[k] : undefined));
      out.upsert(target.table.spec.name, target.columns, key.concat(values), key.length);
    }

    const dataset = plan.dataset;
    if (dataset !== undefined) {
      const values = dataset.cells.map((k) => (k >= 0 ? row.cells[k] : undefined));
      if (values.some((value) => value !== undefined)) {
        out.upsert(dataset.table.spec.name, dataset.columns, [DATASET_KEY_VALUE, ...values], 1);
      }
    }
  }

  private delete(row: SdmxCsvRow, out: OpBatcher): void {
    const { plan } = this;
    const scope: Record<string, string> = {};
    const scopeDimensions: string[] = [];
    const switchedOff: string[] = [];
    plan.dimensionCells.forEach((k, d) => {
      const value = k >= 0 ? row.cells[k] : undefined;
      if (value === undefined) return;
      const id = this.structure.dimensions[d] as string;
      if (value === SWITCHED_OFF) {
        switchedOff.push(id);
        return;
      }
      scope[id] = value;
      scopeDimensions.push(id);
    });
    // A table is inside the scope when its key holds every scoped dimension (a series is inside
    // `DIM_2=B`, the group of DIM_2 too, but not inside `DIM_1=A, DIM_2=B`: that group value is
    // shared with other series) and no switched-off one (`~` targets what is not attached to it).
    const inScope = (dimensions: readonly string[]): boolean =>
      scopeDimensions.every((id) => dimensions.includes(id)) && !switchedOff.some((id) => dimensions.includes(id));
    const observationsInScope = switchedOff.length === 0;
    const given = (cells: readonly number[]): number[] => cells.filter((k) => k >= 0 && row.cells[k] !== undefined);
    const obsGiven = given(plan.observations.cells);
    const attributeGiven = plan.attributeTables.map((target) => given(target.cells));
    const datasetGiven = plan.dataset === undefined ? [] : given(plan.dataset.cells);
    const anyComponent = obsGiven.length > 0 || datasetGiven.length > 0 || attributeGiven.some((list) => list.length > 0);

    if (!anyComponent) {
      if (scopeDimensions.length === 0 && switchedOff.length === 0) this.options.onDataflowDelete?.(row.line);
      if (observationsInScope) out.deleteWhere(plan.observations.table.spec.name, scope);
      for (const target of plan.attributeTables) {
        if (inScope(target.table.dimensions)) out.deleteWhere(target.table.spec.name, scope);
      }
      if (plan.dataset !== undefined && scopeDimensions.length === 0) out.deleteWhere(plan.dataset.table.spec.name, {});
      return;
    }

    const components = plan.header.components;
    if (obsGiven.length > 0 && observationsInScope) {
      const table = plan.observations.table;
      out.nullAndPrune(table.spec.name, scope, obsGiven.map((k) => table.columnOf.get(components[k] as string) as string), plan.observations.valueColumns);
    }
    plan.attributeTables.forEach((target, t) => {
      const list = attributeGiven[t] as number[];
      if (list.length === 0 || !inScope(target.table.dimensions)) return;
      out.nullAndPrune(target.table.spec.name, scope, list.map((k) => target.table.columnOf.get(components[k] as string) as string), target.valueColumns);
    });
    if (plan.dataset !== undefined && datasetGiven.length > 0 && scopeDimensions.length === 0) {
      const table = plan.dataset.table;
      const key = { [DATASET_KEY_COLUMN]: DATASET_KEY_VALUE };
      out.nullAndPrune(table.spec.name, key, datasetGiven.map((k) => table.columnOf.get(components[k] as string) as string), plan.dataset.valueColumns);
    }
  }

  private checkStructure(row: SdmxCsvRow): void {
    const ref = row.structure;
    if (this.acceptedRefs.has(ref)) return;
    const target = ref.type === 'datastructure' ? this.structure.dsd : (this.structure.dataflow ?? this.structure.dsd);
    const matches =
      ref.type !== 'dataprovision' &&
      ref.agency === target.agency &&
      ref.id === target.id &&
      (ref.version === undefined || ref.version === target.version);
    if (!matches) throw this.error(row, `the row belongs to ${formatRef(ref)}, not to ${formatArtefact(target)}`);
    this.acceptedRefs.add(ref);
  }

  private missingDimensions(row: SdmxCsvRow): string[] {
    return this.structure.dimensions.filter((_, d) => dimensionValue(row, this.plan.dimensionCells[d] as number) === undefined);
  }

  private error(row: SdmxCsvRow, message: string): SdmxActionError {
    return new SdmxActionError(`${this.options.label}: line ${row.line} (${formatRef(row.structure)}, action ${row.action}): ${message}`, row.line);
  }
}

export interface MapperOptions {
  /** Names the stream or dataflow in errors. */
  readonly label: string;
  /** Called for a D row without any dimension or component: it empties the whole dataflow. */
  readonly onDataflowDelete?: (line: number) => void;
}

export class SdmxActionError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'SdmxActionError';
  }
}

interface TablePlan {
  readonly table: LayoutTable;
  /** Header positions of the key's dimensions (-1: no such column). */
  readonly dimensionCells: readonly number[];
  /** Header positions of the table's components (-1: no such column). */
  readonly cells: readonly number[];
  /** Upsert columns: the key, then every component column. */
  readonly columns: readonly string[];
  readonly valueColumns: readonly string[];
}

interface HeaderPlan {
  readonly header: SdmxCsvHeader;
  readonly dimensionCells: readonly number[];
  readonly observations: TablePlan;
  readonly attributeTables: readonly TablePlan[];
  readonly dataset: TablePlan | undefined;
}

function planHeader(structure: DataStructure, layout: DataflowLayout, header: SdmxCsvHeader, label: string): HeaderPlan {
  const position = new Map(header.components.map((id, k) => [id, k]));
  const at = (id: string): number => position.get(id) ?? -1;
  const tablePlan = (table: LayoutTable, keyColumns: readonly string[]): TablePlan => {
    const valueColumns = table.components.map((id) => table.columnOf.get(id) as string);
    return {
      table,
      dimensionCells: table.dimensions.map(at),
      cells: table.components.map(at),
      columns: [...keyColumns, ...valueColumns],
      valueColumns,
    };
  };
  const known = new Set<string>([...structure.dimensions, ...layout.observations.components]);
  for (const table of layout.attributeTables) for (const id of table.components) known.add(id);
  for (const id of layout.datasetAttributes?.components ?? []) known.add(id);
  const unknown = header.components.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new SdmxActionError(`${label}: the CSV header names components the data structure does not have: ${unknown.join(', ')}`, 1);
  }
  return {
    header,
    dimensionCells: structure.dimensions.map(at),
    observations: tablePlan(layout.observations, layout.observations.dimensions),
    attributeTables: layout.attributeTables.map((table) => tablePlan(table, table.dimensions)),
    dataset: layout.datasetAttributes === undefined ? undefined : tablePlan(layout.datasetAttributes, [DATASET_KEY_COLUMN]),
  };
}

/**
 * CSV 2.1 switches a dimension off with `~` where a higher-level attribute is not attached to it
 * (docs/sdmx.md, "Referential metadata"); .Stat data leaves the cell empty instead (transfer#491).
 */
const SWITCHED_OFF = '~';

/** A dimension cell's value, undefined when the column is absent, the cell omitted or switched off. */
function dimensionValue(row: SdmxCsvRow, k: number): string | undefined {
  const value = k >= 0 ? row.cells[k] : undefined;
  return value === SWITCHED_OFF ? undefined : value;
}

function keyOf(dimensions: readonly string[], values: readonly Cell[]): PartialKey {
  const key: Record<string, string> = {};
  dimensions.forEach((id, d) => {
    key[id] = values[d] as string;
  });
  return key;
}
