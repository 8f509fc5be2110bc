import type { JsonValue } from '../../core/json.js';
import type { SqlValue } from '../../core/tables.js';
import type { Store } from '../../store/store.js';
import type { HostedDataset } from './portal-data.js';

/**
 * What a dataset's records table must hold to equal the portal (the oracle of tests and `demo`):
 * one row per record, keyed by record id, values as the mirror types them (JSON values as their
 * JSON text), sorted by key.
 */
export function portalRows(dataset: HostedDataset, mode: 'snapshot' | 'incremental' = 'snapshot'): Record<string, SqlValue>[] {
  const rows = [...dataset.records.values()].map((record) => {
    // Only the incremental mode keeps record_timestamp.
    const row: Record<string, SqlValue> = { record_id: record.id, record_timestamp: mode === 'incremental' ? record.timestamp : null };
    for (const field of dataset.fields) {
      // Own values only: a field named like an Object.prototype member ("toString") must not read the prototype's.
      const value = Object.hasOwn(record.values, field.name) ? (record.values[field.name] ?? null) : null;
      row[field.name] = mirrored(field.type, field.annotations?.['multivalued'] !== undefined, value);
    }
    return row;
  });
  return rows.sort((a, b) => ((a['record_id'] as string) < (b['record_id'] as string) ? -1 : 1));
}

function mirrored(type: string, multivalued: boolean, value: JsonValue): SqlValue {
  if (value === null) return null;
  if (multivalued) return JSON.stringify(value);
  switch (type) {
    case 'text':
    case 'date':
    case 'datetime':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'int':
    case 'double':
    case 'boolean':
      return value as SqlValue;
    default:
      return JSON.stringify(value);
  }
}

/** The table's rows sorted by record id (readTable orders by the primary key already when it is record_id). */
export async function mirrorRows(store: Store, table: string): Promise<Record<string, SqlValue>[]> {
  const rows = await store.readTable(table);
  return rows.sort((a, b) => ((a['record_id'] as string) < (b['record_id'] as string) ? -1 : 1));
}
