import { CsvSyntaxError, parseCsv, type CsvCell } from './csv-text.js';
import { checkDataRow, type DataAction, type DataRow } from './dataflow-content.js';
import type { DataflowStructure } from './dataflow-structure.js';
import { checkMetadataRow, type MetadataRow } from './metadata-content.js';

/**
 * Reads an SDMX-CSV upload (2.0 with or without ACTION, or 1.0) for one dataflow, the way the
 * .Stat transfer service takes it: columns by name, I/A = Merge, an absent ACTION = Merge for data
 * and Replace for referential metadata in CSV 1.0, data and referential metadata never mixed.
 * Every row is checked before anything is applied, so a bad upload changes nothing.
 */

export type ParsedUpload =
  | { readonly kind: 'data'; readonly rows: readonly DataRow[] }
  | { readonly kind: 'metadata'; readonly rows: readonly MetadataRow[] };

export class NsiUploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NsiUploadError';
  }
}

type Column =
  | { readonly kind: 'structure' | 'structureId' | 'action' }
  | { readonly kind: 'dimension'; readonly index: number }
  | { readonly kind: 'observation'; readonly index: number }
  | { readonly kind: 'attribute'; readonly attachment: number; readonly index: number }
  | { readonly kind: 'metadata'; readonly index: number };

export function parseUpload(structure: DataflowStructure, text: string): ParsedUpload {
  const where = `upload to ${structure.ref}`;
  const head = /^\uFEFF?(STRUCTURE(?:\[[^\]]*\])?|DATAFLOW)(.)/.exec(text);
  if (!head) throw new NsiUploadError(`${where}: the first header cell must be STRUCTURE (SDMX-CSV 2.0) or DATAFLOW (1.0)`);
  const csv10 = head[1] === 'DATAFLOW';
  const delimiter = head[2]!;
  let table: CsvCell[][];
  try {
    table = parseCsv(text, delimiter);
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw new NsiUploadError(`${where}: ${error.message}`);
    throw error;
  }
  const header = (table[0] ?? []).map((h) => (h ?? '').replace(/\[[^\]]*\]$/, ''));
  const columns: Column[] = header.map((name, c) => {
    if (c === 0) return { kind: 'structure' };
    if (!csv10 && c === 1 && name === 'STRUCTURE_ID') return { kind: 'structureId' };
    if (!csv10 && name === 'ACTION') return { kind: 'action' };
    const role = structure.role(name);
    if (!role) throw new NsiUploadError(`${where}: column ${c + 1} ${JSON.stringify(name)} is not a component of ${structure.ref}`);
    return role;
  });
  if (!csv10 && columns[1]?.kind !== 'structureId') throw new NsiUploadError(`${where}: the second header cell must be STRUCTURE_ID`);
  const metadata = columns.some((c) => c.kind === 'metadata');
  const data = columns.some((c) => c.kind === 'observation' || c.kind === 'attribute');
  if (metadata && data) throw new NsiUploadError(`${where}: data and referential metadata cannot be uploaded together`);
  if (!metadata && !data) {
    throw new NsiUploadError(`${where}: there needs to be at least one column for measures/attributes or for referential metadata attributes`);
  }
  const hasAction = columns.some((c) => c.kind === 'action');
  const defaultAction = csv10 && metadata ? 'R' : 'M';

  const dataRows: DataRow[] = [];
  const metadataRows: MetadataRow[] = [];
  for (let r = 1; r < table.length; r += 1) {
    const cells = table[r]!;
    const at = `${where}, row ${r + 1}`;
    if (cells.length > columns.length && cells.slice(columns.length).some((v) => v !== undefined && v !== '')) {
      throw new NsiUploadError(`${at}: ${cells.length} cells for ${columns.length} columns`);
    }
    const dims: CsvCell[] = structure.dimensions.map(() => undefined);
    const observation: CsvCell[] = structure.observationComponents.map(() => undefined);
    const attributes: CsvCell[][] = structure.attachments.map((a) => a.attributes.map(() => undefined));
    const values: CsvCell[] = structure.metadataAttributes.map(() => undefined);
    let action: DataAction = defaultAction;
    columns.forEach((column, c) => {
      const cell = cells[c];
      switch (column.kind) {
        case 'structure':
          if (csv10) {
            if (cell !== structure.ref) throw new NsiUploadError(`${at}: DATAFLOW is ${JSON.stringify(cell)}, expected ${structure.ref}`);
          } else if (cell?.toLowerCase() !== 'dataflow') {
            throw new NsiUploadError(`${at}: STRUCTURE is ${JSON.stringify(cell)}; uploads here go through the dataflow`);
          }
          return;
        case 'structureId':
          if (cell !== structure.ref) throw new NsiUploadError(`${at}: STRUCTURE_ID is ${JSON.stringify(cell)}, expected ${structure.ref}`);
          return;
        case 'action':
          action = actionOf(cell, defaultAction, at);
          return;
        case 'dimension':
          dims[column.index] = cell;
          return;
        case 'observation':
          observation[column.index] = cell;
          return;
        case 'attribute':
          attributes[column.attachment]![column.index] = cell;
          return;
        case 'metadata':
          values[column.index] = cell;
          return;
      }
    });
    if (!hasAction) action = defaultAction;
    if (metadata) {
      const row: MetadataRow = { action, dims, values };
      const problem = checkMetadataRow(structure, row);
      if (problem) throw new NsiUploadError(`${at}: ${problem}`);
      metadataRows.push(row);
    } else {
      const row: DataRow = { action, dims, observation, attributes };
      const problem = checkDataRow(structure, row);
      if (problem) throw new NsiUploadError(`${at}: ${problem}`);
      dataRows.push(row);
    }
  }
  return metadata ? { kind: 'metadata', rows: metadataRows } : { kind: 'data', rows: dataRows };
}

function actionOf(cell: CsvCell, fallback: DataAction, at: string): DataAction {
  switch (cell) {
    case undefined:
      return fallback;
    case 'I':
    case 'A':
    case 'M':
      // .Stat applies Information and Append as Merge (DSS upload-data-sdmx-file.md).
      return 'M';
    case 'R':
    case 'D':
      return cell;
    default:
      throw new NsiUploadError(`${at}: unknown ACTION ${JSON.stringify(cell)} (expected I, A, M, R or D)`);
  }
}
