import { isRecord, type JsonValue } from '../../core/json.js';
import type { ColumnType } from '../../core/tables.js';
import type { MirroredField } from './record-table.js';

/**
 * What a records stream remembers between runs: the gate (data_processed and records_count of the
 * last mirrored snapshot), the schema the table was built with, what the portal returns of the
 * technical fields, and in incremental mode the newest record_timestamp seen and the time of the
 * last reconciliation of ids.
 */
export interface RecordsCursor {
  readonly mode: 'snapshot' | 'incremental';
  readonly dataProcessed: string | null;
  readonly recordsCount: number | null;
  readonly schema: readonly MirroredField[];
  readonly key: readonly string[];
  readonly technical: TechnicalFields;
  /** Incremental mode: the newest record_timestamp mirrored. */
  readonly since: string | null;
  /** Incremental mode: when the ids were last reconciled (ISO 8601). */
  readonly reconciledAt: string | null;
}

/** Whether the portal returns the technical fields when they are selected (probed on first contact). */
export interface TechnicalFields {
  readonly recordid: boolean;
  readonly timestamp: boolean;
}

export function recordsCursorJson(cursor: RecordsCursor): JsonValue {
  return {
    mode: cursor.mode,
    dataProcessed: cursor.dataProcessed,
    recordsCount: cursor.recordsCount,
    schema: cursor.schema.map((field) => ({ name: field.name, odsType: field.odsType, column: field.column })),
    key: [...cursor.key],
    technical: { recordid: cursor.technical.recordid, timestamp: cursor.technical.timestamp },
    since: cursor.since,
    reconciledAt: cursor.reconciledAt,
  };
}

/** The cursor, or undefined for a stream never synced (or reset): its next run is a first load. */
export function readRecordsCursor(value: JsonValue): RecordsCursor | undefined {
  if (!isRecord(value)) return undefined;
  const text = (name: string) => (typeof value[name] === 'string' ? value[name] : null);
  const schema = Array.isArray(value['schema']) ? value['schema'] : [];
  const technical = isRecord(value['technical']) ? value['technical'] : {};
  return {
    mode: value['mode'] === 'incremental' ? 'incremental' : 'snapshot',
    dataProcessed: text('dataProcessed'),
    recordsCount: typeof value['recordsCount'] === 'number' ? value['recordsCount'] : null,
    schema: schema.flatMap((field) =>
      isRecord(field) && typeof field['name'] === 'string' && typeof field['odsType'] === 'string' && typeof field['column'] === 'string'
        ? [{ name: field['name'], odsType: field['odsType'], column: field['column'] as ColumnType }]
        : [],
    ),
    key: Array.isArray(value['key']) ? value['key'].filter((name): name is string => typeof name === 'string') : [],
    technical: { recordid: technical['recordid'] !== false, timestamp: technical['timestamp'] !== false },
    since: text('since'),
    reconciledAt: text('reconciledAt'),
  };
}

/** Two data_processed values name the same instant (portals vary the precision: `...25+00:00`, `...25.162000+00:00`). */
export function sameInstant(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  const x = Date.parse(a);
  const y = Date.parse(b);
  return Number.isNaN(x) || Number.isNaN(y) ? a === b : x === y;
}
