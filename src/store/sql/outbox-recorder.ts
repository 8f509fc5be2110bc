import type { ChangeOp } from '../../core/ops.js';
import type { PartialKey, SqlValue } from '../../core/tables.js';
import type { OutboxScope, OutboxTracking } from '../delivery.js';
import { upsert } from './change-applier.js';
import type { EngineSession, SqlDialect } from './engine.js';
import { internalTarget } from './internal-rows.js';
import { DSS_OUTBOX } from './internal-tables.js';
import type { SqlCatalog } from './sql-catalog.js';

/**
 * Past this many distinct keys in one transaction, its outbox entry says "every record" instead:
 * comparing everything is always correct, and a full load must not hold its keys in memory.
 */
export const MAX_SCOPES_PER_TRANSACTION = 2_000;

/**
 * Collects, while a transaction applies operations, the records they may change (by record key),
 * and writes them to the outbox just before the transaction commits: with the changes and the
 * cursor, or not at all. What is recorded is a superset: a write to a table keyed by a part of the
 * record key (a series attribute) becomes a partial key, a column the record key lacks a wildcard,
 * and a write by condition or a rebuild "every record". The deliverer compares within them.
 */
export class OutboxRecorder {
  private readonly pending = new Map<string, { readonly targets: readonly string[]; all: boolean; readonly scopes: Map<string, PartialKey> }>();

  /** Records what `op`, just validated and applied, may have changed. */
  async note(op: ChangeOp, tracking: OutboxTracking, catalog: SqlCatalog): Promise<void> {
    if (tracking.targets.length === 0) return;
    const entry = this.entryFor(tracking);
    if (entry.all) return;
    // A relation not made yet has no key: whatever is written then is recorded as "every record".
    const key = new Set(tracking.key ?? (await catalog.keyOf(tracking.relation)) ?? []);
    const add = (scope: PartialKey): void => {
      if (Object.keys(scope).length === 0) {
        entry.all = true;
        entry.scopes.clear();
        return;
      }
      entry.scopes.set(scopeText(scope), scope);
      if (entry.scopes.size > MAX_SCOPES_PER_TRANSACTION) {
        entry.all = true;
        entry.scopes.clear();
      }
    };
    switch (op.op) {
      case 'ensureTable':
      case 'ensureView':
      case 'beginStaging':
      case 'stageRows':
      case 'beginSnapshot':
        return;
      case 'replaceTable':
      case 'applyStaged':
      case 'snapshotRows':
      case 'applySnapshot':
        // A snapshot deletes whatever it did not see, so it changes "every record" in any case; its
        // rows, written as they come, are recorded so at once (a snapshot never applied included).
        return add({});
      case 'upsert': {
        const { spec } = await catalog.target(op.table);
        const positions = spec.primaryKey.filter((name) => key.has(name)).map((name) => [name, op.columns.indexOf(name)] as const);
        for (const row of op.rows) {
          if (entry.all) return;
          add(Object.fromEntries(positions.map(([name, position]) => [name, row[position] as SqlValue])));
        }
        return;
      }
      case 'deleteWhere':
      case 'setNull':
      case 'prune':
        for (const partial of op.keys) {
          if (entry.all) return;
          // A negated test (`{ not: v }`) is dropped: the scope only widens.
          add(Object.fromEntries(Object.entries(partial).filter(([name, match]) => key.has(name) && (typeof match !== 'object' || match === null))));
        }
        return;
      case 'updateWhere':
        return add(
          Object.fromEntries(
            op.where.flatMap((condition) => ('value' in condition && condition.op === '=' && condition.value !== null && key.has(condition.column) ? [[condition.column, condition.value]] : [])),
          ),
        );
    }
  }

  /** Records every record of the targets (a restarted delivery). */
  everything(targets: readonly string[]): void {
    const entry = this.entryFor({ targets, relation: '' });
    entry.all = true;
    entry.scopes.clear();
  }

  /** Writes the collected entries into the outbox, in the transaction about to commit. */
  async flush(session: EngineSession, dialect: SqlDialect, now: Date): Promise<void> {
    if (this.pending.size === 0) return;
    // One writer at a time allocates sequence numbers (engines shared by daemons lock the name
    // until the commit, which follows at once).
    await session.lockName(DSS_OUTBOX.name);
    const rows = await session.all(`SELECT MAX(${dialect.quote('seq')}) AS ${dialect.quote('seq')} FROM ${dialect.relation(DSS_OUTBOX.name)}`);
    const max = rows[0]?.['seq'];
    let seq = max === null || max === undefined ? 0 : Number(max);
    const createdAt = now.toISOString();
    const written: (readonly SqlValue[])[] = [];
    for (const entry of this.pending.values()) {
      const scopes: (string | null)[] = entry.all ? [null] : [...entry.scopes.keys()];
      for (const target of entry.targets) {
        for (const scope of scopes) written.push([(seq += 1), target, scope, createdAt]);
      }
    }
    this.pending.clear();
    if (written.length > 0) await upsert(session, internalTarget(dialect, DSS_OUTBOX), { columns: ['seq', 'target', 'scope', 'created_at'], rows: written });
  }

  private entryFor(tracking: OutboxTracking) {
    const id = JSON.stringify(tracking.targets);
    let entry = this.pending.get(id);
    if (!entry) {
      entry = { targets: tracking.targets, all: false, scopes: new Map() };
      this.pending.set(id, entry);
    }
    return entry;
  }
}

/** A scope as stored: its columns sorted, so equal scopes have equal text; big integers as text. */
export function scopeText(scope: PartialKey): string {
  const sorted = Object.keys(scope)
    .sort()
    .map((name) => [name, scope[name]] as const);
  return JSON.stringify(Object.fromEntries(sorted), (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}

export function parseScope(text: string | null): OutboxScope {
  if (text === null) return null;
  return JSON.parse(text) as PartialKey;
}
