import type { Readable } from 'node:stream';
import { LimitExceededError } from '../../core/limits.js';
import { CsvSyntaxError, CsvTokenizer, type CsvField } from './csv-tokenizer.js';

/**
 * A streaming SDMX-CSV reader (1.0 and 2.x; docs/sdmx.md, "Reading SDMX-CSV"). It knows the message layout,
 * not the data structure: columns are mapped by name to component ids, and each row says which
 * structure it belongs to, its action and, per component, whether the cell was omitted or held a value.
 */

/** I and A are read as Merge, as .Stat does (docs/sdmx.md, "Reading SDMX-CSV"). */
export type SdmxAction = 'M' | 'R' | 'D';

export type StructureType = 'dataflow' | 'datastructure' | 'dataprovision';

export interface StructureRef {
  readonly type: StructureType;
  readonly agency: string;
  readonly id: string;
  /** Absent for non-versioned artefacts (`AGENCY:ID`). */
  readonly version: string | undefined;
}

export interface SdmxCsvHeader {
  readonly format: '1.0' | '2.x';
  readonly delimiter: string;
  /** From `STRUCTURE[x]`: separates the values of multi-valued cells, which are kept as text. */
  readonly subFieldSeparator: string | undefined;
  readonly labels: 'id' | 'both' | 'name';
  readonly hasActionColumn: boolean;
  /** Component ids of the mapped columns; `cells` of every row follow this order. */
  readonly components: readonly string[];
  /** Columns left out: label columns, keys, custom columns and components the caller does not know. */
  readonly ignoredColumns: readonly string[];
  /** The subset of ignoredColumns that looked like components but were not in `knownComponents`. */
  readonly unknownColumns: readonly string[];
}

/**
 * One cell per header component: `undefined` = omitted (an unquoted empty cell or a missing
 * trailing cell); a string = present, `""` included (a quoted empty cell is a present empty string).
 */
export type CellState = string | undefined;

export interface SdmxCsvRow {
  /** Line of the file where the row starts (the header is line 1). */
  readonly line: number;
  readonly structure: StructureRef;
  readonly action: SdmxAction;
  readonly cells: readonly CellState[];
}

export interface SdmxCsvStats {
  rows: number;
  /** Rows with empty cells past the header's last column (sdmx-csv issue #30), tolerated. */
  trailingEmptyCells: number;
}

export interface SdmxCsvMessage {
  readonly header: SdmxCsvHeader;
  /** Rows in file order, in batches of `batchSize` rows or a little more (one chunk of the body). Iterate once. */
  readonly batches: AsyncIterable<readonly SdmxCsvRow[]>;
  readonly stats: Readonly<SdmxCsvStats>;
}

export interface SdmxCsvOptions {
  /** Names the stream or dataflow in errors. */
  readonly label?: string;
  readonly batchSize?: number;
  /**
   * Component ids of the structure. When given, other columns are dropped from `components` and
   * listed in `unknownColumns` (custom columns such as VALID_FROM, or a structure change).
   */
  readonly knownComponents?: ReadonlySet<string>;
  /**
   * Whether the body's end can be told from a cut (HttpResponse.endVerified; a file). When it
   * cannot, a last line without its line break is refused: SDMX-CSV answers end every line with
   * one, so such a line was cut, and a cut R row would read as one that omits (deletes) values.
   */
  readonly endVerified?: boolean;
  /** Bounds on one answer (core/limits.ts); none by default. */
  readonly limits?: { readonly lineBytes?: number; readonly cellBytes?: number; readonly rowsPerResponse?: number };
  /** Checked between chunks: a stop (SIGTERM, the run timeout) ends the reading at once, even inside a long line. */
  readonly signal?: AbortSignal;
}

export class SdmxCsvError extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
  ) {
    super(message);
    this.name = 'SdmxCsvError';
  }
}

const RESERVED_2X = new Set(['STRUCTURE', 'STRUCTURE_ID', 'STRUCTURE_NAME', 'ACTION', 'SERIES_KEY', 'OBS_KEY']);
const ACTIONS: Readonly<Record<string, SdmxAction>> = { I: 'M', A: 'M', M: 'M', R: 'R', D: 'D' };
const STRUCTURE_TYPES: Readonly<Record<string, StructureType>> = {
  dataflow: 'dataflow',
  datastructure: 'datastructure',
  dataprovision: 'dataprovision',
};
const FIRST_CELL = /^"?(STRUCTURE|DATAFLOW)(?:\[([^\]]*)\])?"?([^\r\n]?)/i;
/** `AGENCY:ID(VERSION)`, `AGENCY:ID`, each optionally followed by `: name` (labels=both). */
const STRUCTURE_ID = /^([^:(),\s]+):([^:(),\s]+)(?:\(([^()\s]*)\))?(?::\s.*)?$/s;
const PEEK_LIMIT = 4096;
/**
 * Text read past which a batch is handed on even if it has fewer than batchSize rows: long rows
 * must not pile up batchSize deep (1000 rows of 16 MB each).
 */
const BATCH_CHARS = 8 * 1024 * 1024;

/** Reads the header and returns the rows as batches; fails at once if the body is not SDMX-CSV. */
export async function openSdmxCsv(body: Readable, options: SdmxCsvOptions = {}): Promise<SdmxCsvMessage> {
  const label = options.label ?? 'SDMX-CSV';
  const batchSize = options.batchSize ?? 2000;
  const prefix = await peek(body, label);
  const start = prefix.toString('utf8').replace(/^\uFEFF/, '');
  const first = FIRST_CELL.exec(start);
  if (!first) {
    body.destroy();
    throw new SdmxCsvError(
      `${label}: the response is not SDMX-CSV: its first header cell should be STRUCTURE or DATAFLOW, it starts with ${JSON.stringify(start.slice(0, 80))}`,
      1,
    );
  }
  const format = (first[1] as string).toUpperCase() === 'DATAFLOW' ? '1.0' : '2.x';
  const delimiter = first[3] === '' || first[3] === undefined ? ',' : first[3];
  if (delimiter === '"') {
    body.destroy();
    throw new SdmxCsvError(`${label}: line 1: cannot use '"' as the field delimiter`, 1);
  }
  const subFieldSeparator = first[2] === undefined || first[2] === '' ? undefined : first[2].charAt(0);

  const tokenizer = new CsvTokenizer(delimiter, options.limits ?? {});
  const maxRows = options.limits?.rowsPerResponse ?? Number.MAX_SAFE_INTEGER;
  const signal = options.signal;
  const decoder = new TextDecoder('utf-8');
  const chunks = (body as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const decode = (chunk: Buffer | string): string => (typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));

  // The header first: the tokenizer pauses after it, keeping the rows read with it for batches().
  let headerNames: string[] | undefined;
  const onHeader = (fields: CsvField[]): boolean => {
    headerNames = fields.map((field) => field ?? '');
    return false;
  };
  const endVerified = options.endVerified ?? false;
  /** Refuses a body that ends inside a record it may have lost the rest of (see SdmxCsvOptions.endVerified). */
  const checkEnd = (): void => {
    const open = tokenizer.openRecordLine();
    if (open === undefined || endVerified) return;
    throw new SdmxCsvError(
      `${label}: line ${open}: the answer ends inside this line (no line break after it) and its length was not announced: it was cut short; nothing of it is applied`,
      open,
    );
  };
  try {
    tokenizer.push(decode(prefix), onHeader);
    while (headerNames === undefined) {
      signal?.throwIfAborted();
      const step = await chunks.next();
      if (step.done) {
        tokenizer.push(decoder.decode(), onHeader);
        if (headerNames === undefined) {
          checkEnd();
          tokenizer.end(onHeader);
        }
        break;
      }
      tokenizer.push(decode(step.value), onHeader);
    }
  } catch (error) {
    body.destroy();
    throw wrapParseError(error, label);
  }
  if (headerNames === undefined) {
    throw new SdmxCsvError(`${label}: the response has no SDMX-CSV header row`, 1);
  }
  const layout = mapHeader(headerNames, format, options.knownComponents, label);
  const header: SdmxCsvHeader = { ...layout.header, format, delimiter, subFieldSeparator };

  const stats: SdmxCsvStats = { rows: 0, trailingEmptyCells: 0 };
  const width = headerNames.length;
  const { componentColumns, actionColumn, typeColumn, refColumn } = layout;
  const refs = new Map<string, StructureRef>();
  const componentCount = componentColumns.length;
  // Rows of one message nearly always repeat the previous row's structure: compare before hashing.
  let lastType: string | undefined;
  let lastRefText: string | undefined;
  let lastRef: StructureRef | undefined;

  const toRow = (record: CsvField[], rowLine: number): SdmxCsvRow => {
    stats.rows += 1;
    if (stats.rows > maxRows) throw new LimitExceededError('rowsPerResponse', maxRows, `${label}: the answer (row on line ${rowLine})`);
    if (record.length > width) {
      for (let i = width; i < record.length; i += 1) {
        if (record[i] !== undefined && record[i] !== '') {
          throw new SdmxCsvError(
            `${label}: line ${rowLine}${refSuffix(record[refColumn])}: the row has ${record.length} cells but the header has ${width}`,
            rowLine,
          );
        }
      }
      stats.trailingEmptyCells += 1;
    } else if (record.length < width) {
      // Not read as omitted cells: a row cut short would then delete the values it lost.
      throw new SdmxCsvError(
        `${label}: line ${rowLine}${refSuffix(record[refColumn])}: the row has ${record.length} cells but the header has ${width}`,
        rowLine,
      );
    }
    const typeText = typeColumn < 0 ? 'dataflow' : (record[typeColumn] ?? '');
    const refText = record[refColumn] ?? '';
    let structure: StructureRef;
    if (lastRef !== undefined && typeText === lastType && refText === lastRefText) {
      structure = lastRef;
    } else {
      structure = structureOf(typeText, refText, refs, label, rowLine);
      lastType = typeText;
      lastRefText = refText;
      lastRef = structure;
    }
    let action: SdmxAction = 'M';
    if (actionColumn >= 0) {
      const letter = record[actionColumn] ?? '';
      const known = ACTIONS[letter.length === 1 ? letter.toUpperCase() : letter];
      if (known === undefined) {
        throw new SdmxCsvError(
          `${label}: line ${rowLine} (${formatRef(structure)}): unknown action ${JSON.stringify(letter)} (expected I, A, M, R or D)`,
          rowLine,
        );
      }
      action = known;
    }
    const cells: CellState[] = new Array<CellState>(componentCount);
    for (let k = 0; k < componentCount; k += 1) cells[k] = record[componentColumns[k] as number];
    return { line: rowLine, structure, action, cells };
  };

  async function* batches(): AsyncGenerator<readonly SdmxCsvRow[]> {
    let batch: SdmxCsvRow[] = [];
    const onRow = (fields: CsvField[], line: number): void => {
      batch.push(toRow(fields, line));
    };
    let read = 0;
    try {
      tokenizer.push('', onRow);
      for (;;) {
        if (batch.length >= batchSize || (read >= BATCH_CHARS && batch.length > 0)) {
          yield batch;
          batch = [];
          read = 0;
        }
        signal?.throwIfAborted();
        const step = await chunks.next();
        if (step.done) break;
        signal?.throwIfAborted();
        const text = decode(step.value);
        read += text.length;
        tokenizer.push(text, onRow);
      }
      tokenizer.push(decoder.decode(), onRow);
      checkEnd();
      tokenizer.end(onRow);
      if (batch.length > 0) yield batch;
    } catch (error) {
      throw wrapParseError(error, label);
    } finally {
      body.destroy();
    }
  }

  return { header, batches: batches(), stats };
}

/** Resolves with the first bytes of the body (up to the end of line 1, or a few KB), leaving it paused. */
function peek(body: Readable, label: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error?: Error): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      if (error !== undefined) reject(error);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(buffer);
      size += buffer.length;
      if (size >= PEEK_LIMIT || buffer.includes(10)) {
        body.pause();
        finish();
      }
    };
    const onEnd = (): void => {
      if (size === 0) finish(new SdmxCsvError(`${label}: the response body is empty; expected an SDMX-CSV header`, 1));
      else finish();
    };
    const onError = (error: Error): void => finish(error);
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
  });
}

interface HeaderLayout {
  readonly header: Pick<SdmxCsvHeader, 'labels' | 'hasActionColumn' | 'components' | 'ignoredColumns' | 'unknownColumns'>;
  readonly componentColumns: readonly number[];
  readonly actionColumn: number;
  readonly typeColumn: number;
  readonly refColumn: number;
}

function mapHeader(
  names: readonly string[],
  format: '1.0' | '2.x',
  known: ReadonlySet<string> | undefined,
  label: string,
): HeaderLayout {
  const upper = names.map((name) => name.trim().toUpperCase());
  const labelsName = format === '2.x' && upper.includes('STRUCTURE_NAME');
  const labelsBoth = names.some((name, i) => i > 0 && /^[^:\s]+: /.test(name));
  const components: string[] = [];
  const componentColumns: number[] = [];
  const ignoredColumns: string[] = [];
  const unknownColumns: string[] = [];
  const seen = new Set<string>();
  let actionColumn = -1;
  let refColumn = format === '1.0' ? 0 : -1;
  const typeColumn = format === '1.0' ? -1 : 0;
  for (let i = 1; i < names.length; i += 1) {
    const name = names[i] as string;
    const reserved = upper[i] as string;
    if (format === '2.x' && RESERVED_2X.has(reserved)) {
      if (reserved === 'ACTION') actionColumn = i;
      else if (reserved === 'STRUCTURE_ID') refColumn = i;
      else ignoredColumns.push(name);
      continue;
    }
    if (name === '') {
      ignoredColumns.push(name);
      continue;
    }
    // `ID: Name` under labels=both; `ATTR[]`, `ATTR[en;fr]`, `CONTACT[].NAME[]` for multi-valued cells.
    const id = (labelsBoth ? (name.split(':')[0] as string).trim() : name).replace(/\[[^\]]*\]/g, '');
    const column = i;
    if (labelsName && i + 1 < names.length) {
      // Under labels=name every component column is followed by its localised-name column.
      ignoredColumns.push(names[i + 1] as string);
      i += 1;
    }
    if (known !== undefined && !known.has(id)) {
      ignoredColumns.push(name);
      unknownColumns.push(id);
      continue;
    }
    if (seen.has(id)) throw new SdmxCsvError(`${label}: line 1: the header names component ${id} twice`, 1);
    seen.add(id);
    components.push(id);
    componentColumns.push(column);
  }
  if (refColumn < 0) {
    throw new SdmxCsvError(`${label}: line 1: the header has no STRUCTURE_ID column`, 1);
  }
  return {
    header: {
      labels: labelsName ? 'name' : labelsBoth ? 'both' : 'id',
      hasActionColumn: actionColumn >= 0,
      components,
      ignoredColumns,
      unknownColumns,
    },
    componentColumns,
    actionColumn,
    typeColumn,
    refColumn,
  };
}

function structureOf(typeText: string, refText: string, cache: Map<string, StructureRef>, label: string, line: number): StructureRef {
  const cacheKey = `${typeText}\u0000${refText}`;
  const cached = cache.get(cacheKey);
  if (cached !== undefined) return cached;
  const type = STRUCTURE_TYPES[typeText.toLowerCase()];
  if (type === undefined) {
    throw new SdmxCsvError(
      `${label}: line ${line}: unknown structure type ${JSON.stringify(typeText)} (expected dataflow, datastructure or dataprovision)`,
      line,
    );
  }
  const parsed = STRUCTURE_ID.exec(refText);
  if (!parsed) {
    throw new SdmxCsvError(
      `${label}: line ${line}: structure id ${JSON.stringify(refText)} is not AGENCY:ID(VERSION)`,
      line,
    );
  }
  const ref: StructureRef = {
    type,
    agency: parsed[1] as string,
    id: parsed[2] as string,
    version: parsed[3] === undefined || parsed[3] === '' ? undefined : parsed[3],
  };
  cache.set(cacheKey, ref);
  return ref;
}

export function formatRef(ref: Pick<StructureRef, 'agency' | 'id' | 'version'> & { type?: StructureType }): string {
  const id = `${ref.agency}:${ref.id}${ref.version === undefined ? '' : `(${ref.version})`}`;
  return ref.type === undefined || ref.type === 'dataflow' ? `dataflow ${id}` : `${ref.type} ${id}`;
}

function refSuffix(refText: string | undefined): string {
  return refText ? ` (${refText})` : '';
}

function wrapParseError(error: unknown, label: string): unknown {
  if (error instanceof CsvSyntaxError) return new SdmxCsvError(`${label}: malformed CSV at ${error.message}`, error.line);
  // The tokenizer names the line; the rows limit is named here already.
  if (error instanceof LimitExceededError && error.key !== 'rowsPerResponse') return error.within(`${label}: `);
  return error;
}
