import type { ChangeOp } from '../../core/ops.js';
import type { Cell, KeyMatch } from '../../core/tables.js';
import type { SdmxCsvHeader, SdmxCsvRow } from './csv-reader.js';
import { formatRef } from './csv-reader.js';
import { SdmxActionError, type MapperOptions } from './apply-actions.js';
import type { DataflowLayout, LayoutTable } from './layout.js';
import { OpBatcher } from './op-batcher.js';
import type { DataStructure } from './structure.js';

/** A dimension the metadata is not attached to (docs/sdmx.md, "Referential metadata"). */
const NOT_ATTACHED = '~';
/** In a D row: any value the metadata is attached to, i.e. not `~` (.Stat's "IS NOT NULL"). */
const ANY_ATTACHED = '*';
/** Stored for `~`, so that the attachment is part of the key. */
const NOT_ATTACHED_KEY = '';

/**
 * Turns the rows of a referential-metadata response (`attributes=msd&measures=none`) into
 * operations on `{p}_meta`, with .Stat's rules (DSS upload-referential-metadata): the replacement
 * level is the exact attachment (every dimension, `~` = not attached), R replaces all metadata
 * attributes of it (none given deletes the attachment), M merges, D deletes within a scope where an
 * omitted dimension matches anything, `*` any attached value and `~` only the unattached.
 */
export class SdmxMetadataMapper {
  private readonly table: LayoutTable;
  private readonly dimensionCells: readonly number[];
  private readonly cells: readonly number[];
  private readonly columns: readonly string[];
  private readonly valueColumns: readonly string[];

  constructor(
    private readonly structure: DataStructure,
    layout: DataflowLayout,
    private readonly header: SdmxCsvHeader,
    private readonly options: MapperOptions,
  ) {
    if (layout.metadata === undefined) throw new Error(`${options.label}: the layout has no metadata table`);
    this.table = layout.metadata;
    const position = new Map(header.components.map((id, k) => [id, k]));
    this.dimensionCells = structure.dimensions.map((id) => position.get(id) ?? -1);
    this.cells = this.table.components.map((id) => position.get(id) ?? -1);
    this.valueColumns = this.table.components.map((id) => this.table.columnOf.get(id) as string);
    this.columns = [...this.table.dimensions, ...this.valueColumns];
  }

  map(rows: readonly SdmxCsvRow[]): ChangeOp[] {
    const out = new OpBatcher();
    const name = this.table.spec.name;
    for (const row of rows) {
      const values = this.cells.map((k) => (k >= 0 ? row.cells[k] : undefined));
      const present = values.filter((value) => value !== undefined).length;
      if (row.action === 'D') {
        const scope: Record<string, KeyMatch> = {};
        this.dimensionCells.forEach((k, d) => {
          const value = k >= 0 ? row.cells[k] : undefined;
          if (value === undefined) return;
          scope[this.structure.dimensions[d] as string] = value === ANY_ATTACHED ? { not: NOT_ATTACHED_KEY } : value === NOT_ATTACHED ? NOT_ATTACHED_KEY : value;
        });
        if (present === 0) {
          if (Object.keys(scope).length === 0) this.options.onDataflowDelete?.(row.line);
          out.deleteWhere(name, scope);
        } else {
          const columns = this.valueColumns.filter((_, j) => values[j] !== undefined);
          out.nullAndPrune(name, scope, columns, this.valueColumns);
        }
        continue;
      }
      const key: Cell[] = this.dimensionCells.map((k, d) => {
        const value = k >= 0 ? row.cells[k] : undefined;
        if (value === ANY_ATTACHED) throw this.error(row, `dimension ${this.structure.dimensions[d]} is "*", which only a D row may use`);
        // An omitted dimension on R/M is read like `~`: .Stat writes data rows that way too.
        return value === undefined || value === NOT_ATTACHED ? NOT_ATTACHED_KEY : value;
      });
      if (row.action === 'R' && present === 0) {
        const exact: Record<string, string> = {};
        this.table.dimensions.forEach((id, d) => {
          exact[id] = key[d] as string;
        });
        out.deleteWhere(name, exact);
      } else if (present > 0) {
        const cells = row.action === 'R' ? values.map((value) => value ?? null) : values;
        out.upsert(name, this.columns, key.concat(cells), key.length);
      }
    }
    return out.ops();
  }

  private error(row: SdmxCsvRow, message: string): SdmxActionError {
    return new SdmxActionError(`${this.options.label}: line ${row.line} (${formatRef(row.structure)}, action ${row.action}): ${message}`, row.line);
  }
}
