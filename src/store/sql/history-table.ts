import { addChanges, type ChangeHistory } from '../../core/change-history.js';
import { isRecord } from '../../core/json.js';
import type { DriverRow, EngineSession, SqlConnection, SqlDialect } from './engine.js';
import { readRow, writeRow } from './internal-rows.js';
import { DSS_STREAM_HISTORY } from './internal-tables.js';
import { asText } from './read-values.js';

/** The dss_stream_history table on every engine: each stream's hourly change counts, one row a stream. */

/** Counts `changes` in the hour of `at`, in the transaction that applies them. */
export async function recordChanges(session: EngineSession, dialect: SqlDialect, streamId: string, at: Date, changes: number): Promise<void> {
  const row = await readRow(session, dialect, DSS_STREAM_HISTORY, streamId, true);
  const history = addChanges(row ? historyOf(row) : undefined, at, changes);
  await writeRow(session, dialect, DSS_STREAM_HISTORY, { stream_id: streamId, history: JSON.stringify(history) });
}

export async function readHistories(conn: SqlConnection, dialect: SqlDialect): Promise<Map<string, ChangeHistory>> {
  const rows = await conn.all(`SELECT * FROM ${dialect.relation(DSS_STREAM_HISTORY.name)}`);
  const histories = new Map<string, ChangeHistory>();
  for (const row of rows) {
    const history = historyOf(row);
    if (history) histories.set(asText(row.stream_id), history);
  }
  return histories;
}

/** A row that does not parse counts as no history: the sparkline is a view, never a reason to fail a run. */
function historyOf(row: DriverRow): ChangeHistory | undefined {
  try {
    const parsed: unknown = JSON.parse(asText(row.history));
    if (isRecord(parsed) && typeof parsed['hour'] === 'number' && Array.isArray(parsed['counts'])) {
      return { hour: parsed['hour'], counts: parsed['counts'].map((count) => (typeof count === 'number' ? count : 0)) };
    }
  } catch {
    // Falls through to "no history".
  }
  return undefined;
}
