import * as crypto from 'node:crypto';
import type { ApplyCounts, ApplySnapshotOp, BeginSnapshotOp, SnapshotRowsOp } from '../../core/ops.js';
import type { ColumnSpec, PartialKey, SqlValue, TableSpec } from '../../core/tables.js';
import { StoreSchemaError } from '../store.js';
import { upsert } from './change-applier.js';
import type { EngineSession, KeySet, SqlDialect, Target } from './engine.js';
import { readCell, readInteger } from './read-values.js';
import type { StagingAreas } from './staging.js';
import { begunColumns, columnOf } from './table-spec.js';
import { keySets } from './where-sql.js';

/**
 * - `limit`: most rows whose digests are kept for one table (a snapshot holds them in memory:
 *   tens of MB for 100,000). A larger table is diffed as before digests existed (every row compared
 *   in the database, keys staged), and keeps none.
 * - `page`: digest rows read per statement when a snapshot loads them.
 *
 * - `everyEngine`: keep digests on engines whose dialect does not (SQLite), so that tests can
 *   cover the digest path on an in-process store.
 *
 * Tests lower the first two, to cross them with a few rows.
 */
export const digestSettings = { limit: 200_000, page: 10_000, everyEngine: false };

const SLOT = 'slot';
const KEY = 'k';
const HASH = 'h';

/**
 * The digest table of a mirrored table: one row per stored row, (slot, key, hash of the row as the
 * last snapshot wrote it). The slot is a number given in order, unique in the table: the rows are
 * read and deleted by it, and looked up in memory by their key text, so two keys never share one.
 */
export function digestSpec(table: string, foldsCase: boolean): TableSpec {
  return {
    name: digestName(table, foldsCase),
    columns: [
      { name: SLOT, type: 'integer' },
      { name: KEY, type: 'text' },
      { name: HASH, type: 'text' },
    ],
    primaryKey: [SLOT],
  };
}

/**
 * Reserved prefix (users cannot name a table dss_*), within 63 characters; one per table as the
 * engine tells tables apart: `Items` and `items` are one table where the engine folds case
 * (SQLite, SQL Server), and two on PostgreSQL, each with digests of its own.
 */
export function digestName(table: string, foldsCase: boolean): string {
  const name = foldsCase ? table.toLowerCase() : table;
  return `dss_digest_${crypto.createHash('sha256').update(name).digest('hex').slice(0, 24)}`;
}

/**
 * Cells as text that tells every value apart (type and value; a string's length comes first, so no
 * content can fake a boundary): `z` null, `t`/`f`, `n1.5;`, `b12;` (bigint), `s3:abc`.
 */
export function encodeCells(cells: readonly SqlValue[]): string {
  let out = '';
  for (const cell of cells) {
    switch (typeof cell) {
      case 'string':
        out += `s${cell.length}:${cell}`;
        break;
      case 'number':
        out += Object.is(cell, -0) ? 'n-0;' : `n${cell};`;
        break;
      case 'bigint':
        out += `b${cell};`;
        break;
      case 'boolean':
        out += cell ? 't' : 'f';
        break;
      default:
        if (cell !== null) throw new StoreSchemaError(`a snapshot cell is ${typeof cell}, not a SQL value`);
        out += 'z';
    }
  }
  return out;
}

/** The cells encodeCells wrote. */
export function decodeCells(text: string): SqlValue[] {
  const cells: SqlValue[] = [];
  let at = 0;
  while (at < text.length) {
    const tag = text[at];
    at += 1;
    if (tag === 'z') cells.push(null);
    else if (tag === 't' || tag === 'f') cells.push(tag === 't');
    else if (tag === 'n' || tag === 'b') {
      const end = text.indexOf(';', at);
      const literal = text.slice(at, end);
      cells.push(tag === 'n' ? Number(literal) : BigInt(literal));
      at = end + 1;
    } else if (tag === 's') {
      const colon = text.indexOf(':', at);
      const length = Number(text.slice(at, colon));
      cells.push(text.slice(colon + 1, colon + 1 + length));
      at = colon + 1 + length;
    } else {
      throw new Error(`a row key is not in the digest encoding at ${at - 1}: ${JSON.stringify(text.slice(0, 40))}`);
    }
  }
  return cells;
}

type HashFn = (text: string) => string;

/** Node's one-shot hash where it has one (no Hash object per row), else createHash. */
const sha256: HashFn =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) => (crypto as unknown as { hash(algorithm: string, data: string, encoding: 'base64'): string }).hash('sha256', text, 'base64')
    : (text) => crypto.createHash('sha256').update(text).digest('base64');

/** A row's digest: its columns' names and its cells, 132 bits of SHA-256 (a differing row with an equal digest is not a risk worth a byte more per row). */
export function rowDigest(columnsText: string, cells: readonly SqlValue[]): string {
  return sha256(columnsText + encodeCells(cells)).slice(0, 22);
}

interface Entry {
  readonly slot: number;
  /** Undefined while the stored row's digest is unknown (the digests are being rebuilt). */
  hash: string | undefined;
  seen: boolean;
  /** Whether the table had the key when the snapshot began, or a snapshot batch has written it since. */
  stored: boolean;
  /** Whether the digest table has a row for this slot. */
  digested: boolean;
}

/**
 * - `digests`: the digest table describes every stored row; rows whose digest is equal are not written.
 * - `rebuild`: no digests were trusted; every row is compared in the database (written only
 *   when it differs), and the digests are written as it goes.
 * - `staged`: past digestSettings.limit, or on an engine that keeps no digests: rows compared in the database, their keys staged, no digests.
 * - `fresh`: an engine that keeps no digests, and the table was empty: rows written as they come,
 *   nothing to compare or delete (a snapshot begun again finds rows, and is staged).
 */
type Mode = 'digests' | 'rebuild' | 'staged' | 'fresh';

interface Snapshot {
  readonly table: string;
  readonly columns: readonly ColumnSpec[];
  readonly columnsText: string;
  readonly keyPositions: readonly number[];
  mode: Mode;
  readonly entries: Map<string, Entry>;
  nextSlot: number;
}

/**
 * The snapshots of one transaction (beginSnapshot ... applySnapshot) and the digests they keep,
 * for every engine. What keeps digests true: each digest row describes its stored row exactly as
 * a snapshot wrote it (written with the row, in the same transaction), so any other write to the
 * table (`forget`, called by the applier before every other operation that writes it) drops
 * them; and they are trusted only when there are as many as the table has rows, so digests
 * written by a snapshot begun again, or left unapplied, are used only once they cover every row.
 * Without them, a snapshot compares every row in the database and writes them again; engines
 * whose dialect keeps no digests (SQLite) always work that way, staging the keys seen. A row
 * edited by hand in the database, bypassing the store, is not seen: documented in docs/limits.md.
 */
export class RowDigests {
  private readonly open = new Map<string, Snapshot>();
  /** Tables whose digests this transaction already dropped (nothing made them again since). */
  private readonly forgotten = new Set<string>();

  constructor(
    private readonly session: EngineSession,
    private readonly dialect: SqlDialect,
    private readonly staging: StagingAreas,
  ) {}

  /** Before any other write to `table`: its digests would no longer describe it. */
  async forget(table: string, what: string): Promise<void> {
    const key = this.key(table);
    if (this.open.has(key)) throw new StoreSchemaError(`table ${table}: ${what} while a snapshot of it is open (applySnapshot it first)`);
    // An engine that keeps no digests has none to drop (an extra statement in every transaction).
    if (this.keeps) await this.drop(table);
  }

  private get keeps(): boolean {
    return this.dialect.keepsRowDigests || digestSettings.everyEngine;
  }

  async begin(target: Target, op: BeginSnapshotOp): Promise<void> {
    const { spec } = target;
    const columns = begunColumns(spec, op.columns, 'beginSnapshot');
    const keyPositions = spec.primaryKey.map((name) => op.columns.indexOf(name));
    // Begun again (an export discarded midway): the digests written meanwhile describe their rows,
    // and the count check below tells whether they describe them all.
    const key = this.key(spec.name);
    this.open.delete(key);
    const snapshot: Snapshot = {
      table: spec.name,
      columns,
      columnsText: `${JSON.stringify(op.columns)}\n`,
      keyPositions,
      mode: 'digests',
      entries: new Map(),
      nextSlot: 1,
    };
    if (!this.keeps) {
      if (await this.isEmpty(target.relation)) snapshot.mode = 'fresh';
      else await this.stage(target, snapshot);
      this.open.set(key, snapshot);
      return;
    }
    const stored = await this.count(target.relation);
    if (stored > digestSettings.limit) {
      await this.stage(target, snapshot);
    } else if (!(await this.loadDigests(snapshot, stored))) {
      await this.drop(spec.name);
      await this.session.run(this.dialect.createTableSql(digestSpec(spec.name, this.dialect.foldsCase), digestName(spec.name, this.dialect.foldsCase)));
      this.forgotten.delete(key);
      snapshot.mode = 'rebuild';
      const keyNames = spec.primaryKey.map((name) => this.dialect.quote(name)).join(', ');
      const keyColumns = spec.primaryKey.map((name) => columnOf(spec, name, 'beginSnapshot'));
      for (const row of await this.session.all(`SELECT ${keyNames} FROM ${target.relation}`)) {
        const cells = keyColumns.map((column) => readCell(column.type, row[column.name]));
        snapshot.entries.set(encodeCells(cells), { slot: snapshot.nextSlot++, hash: undefined, seen: false, stored: true, digested: false });
      }
    }
    this.open.set(key, snapshot);
  }

  async rows(target: Target, op: SnapshotRowsOp): Promise<number> {
    const snapshot = this.snapshotOf(op.table, 'snapshotRows');
    const width = snapshot.columns.length;
    op.rows.forEach((row, index) => {
      if (row.length !== width || row.some((cell: unknown) => cell === undefined)) {
        throw new StoreSchemaError(`table ${snapshot.table}: snapshot row ${index} does not give exactly the ${width} begun columns`);
      }
    });
    const names = snapshot.columns.map((column) => column.name);
    if (snapshot.mode === 'staged') return this.writeStaged(target, snapshot, op.rows);
    if (snapshot.mode === 'fresh') return upsert(this.session, target, { columns: names, rows: op.rows });
    // Rows of keys the table has are written only where a cell differs (their digest may be
    // unknown, or differ for another reason than their cells: other columns); rows of new keys
    // (the whole of a first load) are plain upserts, and their digests plain inserts.
    const changed: (readonly SqlValue[])[] = [];
    const added: (readonly SqlValue[])[] = [];
    const newDigests: SqlValue[][] = [];
    const digests: SqlValue[][] = [];
    for (const row of op.rows) {
      const key = encodeCells(snapshot.keyPositions.map((position) => row[position] as SqlValue));
      const hash = rowDigest(snapshot.columnsText, row);
      let entry = snapshot.entries.get(key);
      if (entry === undefined) {
        entry = { slot: snapshot.nextSlot++, hash: undefined, seen: false, stored: false, digested: false };
        snapshot.entries.set(key, entry);
      }
      entry.seen = true;
      if (entry.hash === hash) continue;
      entry.hash = hash;
      (entry.stored ? changed : added).push(row);
      entry.stored = true;
      (entry.digested ? digests : newDigests).push([entry.slot, key, hash]);
      entry.digested = true;
    }
    let count = 0;
    if (added.length > 0) count += await upsert(this.session, target, { columns: names, rows: added });
    if (changed.length > 0) count += await upsert(this.session, target, { columns: names, rows: changed, onlyChanged: true });
    if (snapshot.entries.size > digestSettings.limit) {
      // Grown past the limit: what is written so far stays, the rest goes the staged way.
      await this.stage(target, snapshot);
      return count;
    }
    const digestTarget = this.digestTarget(snapshot.table);
    if (newDigests.length > 0) await upsert(this.session, digestTarget, { columns: [SLOT, KEY, HASH], rows: newDigests }, true);
    if (digests.length > 0) await upsert(this.session, digestTarget, { columns: [SLOT, KEY, HASH], rows: digests });
    return count;
  }

  async apply(target: Target, op: ApplySnapshotOp): Promise<ApplyCounts> {
    const snapshot = this.snapshotOf(op.table, 'applySnapshot');
    const counts: ApplyCounts = { upserted: 0, deleted: 0, updated: 0 };
    if (snapshot.mode === 'staged') {
      const applied = await this.staging.apply(target, { op: 'applyStaged', table: op.table, staged: 'ignore', unstaged: { action: 'delete' } });
      counts.deleted += applied.deleted;
    } else if (snapshot.mode !== 'fresh') {
      const { spec } = target;
      const gone: PartialKey[] = [];
      const slots: SqlValue[][] = [];
      for (const [key, entry] of snapshot.entries) {
        if (entry.seen) continue;
        const cells = decodeCells(key);
        gone.push(Object.fromEntries(spec.primaryKey.map((name, index) => [name, cells[index] as SqlValue])));
        slots.push([entry.slot]);
      }
      for (const set of keySets(target, gone, 'applySnapshot')) counts.deleted += await this.session.deleteKeys(set);
      if (slots.length > 0) {
        const digests = this.digestTarget(snapshot.table);
        const set: KeySet = { target: digests, columns: [{ name: SLOT, type: 'integer', test: '=' }], keys: slots, allNull: [] };
        await this.session.deleteKeys(set);
      }
    }
    this.open.delete(this.key(op.table));
    return counts;
  }

  /** The digests in the table, if they describe every stored row (as many as the table holds); false otherwise. */
  private async loadDigests(snapshot: Snapshot, stored: number): Promise<boolean> {
    const name = digestName(snapshot.table, this.dialect.foldsCase);
    if ((await this.session.relationKind(name)) !== 'table') return false;
    const relation = this.dialect.relation(name);
    const q = (column: string) => this.dialect.quote(column);
    const { afterSelect, atEnd } = this.dialect.firstRows(digestSettings.page);
    let after = 0;
    for (;;) {
      const page = await this.session.all(
        `SELECT ${afterSelect}${q(SLOT)}, ${q(KEY)}, ${q(HASH)} FROM ${relation} WHERE ${q(SLOT)} > ${this.dialect.param(0)} ORDER BY ${q(SLOT)}${atEnd}`,
        [{ value: after, type: 'integer' }],
      );
      for (const row of page) {
        const slot = Number(readInteger(row[SLOT] as number | bigint | string));
        snapshot.entries.set(String(row[KEY]), { slot, hash: String(row[HASH]), seen: false, stored: true, digested: true });
        after = slot;
      }
      if (page.length < digestSettings.page) break;
      if (snapshot.entries.size > digestSettings.limit) break;
    }
    snapshot.nextSlot = after + 1;
    // Rows added or removed behind the store's back (by hand) show in the count: do not trust the digests then.
    if (snapshot.entries.size === stored) return true;
    snapshot.entries.clear();
    snapshot.nextSlot = 1;
    return false;
  }

  /** Switches the snapshot to staging its keys (no digests), staging those seen so far. */
  private async stage(target: Target, snapshot: Snapshot): Promise<void> {
    if (this.keeps) await this.drop(snapshot.table);
    const { spec } = target;
    await this.staging.begin(target, spec.primaryKey);
    const seen: SqlValue[][] = [];
    for (const [key, entry] of snapshot.entries) if (entry.seen) seen.push(decodeCells(key));
    snapshot.entries.clear();
    snapshot.mode = 'staged';
    for (let at = 0; at < seen.length; at += digestSettings.page) await this.staging.stage(spec.name, seen.slice(at, at + digestSettings.page));
  }

  private async writeStaged(target: Target, snapshot: Snapshot, rows: readonly (readonly SqlValue[])[]): Promise<number> {
    const count = await upsert(this.session, target, { columns: snapshot.columns.map((column) => column.name), rows, onlyChanged: true });
    await this.staging.stage(snapshot.table, rows.map((row) => snapshot.keyPositions.map((position) => row[position] as SqlValue)));
    return count;
  }

  private async isEmpty(relation: string): Promise<boolean> {
    const { afterSelect, atEnd } = this.dialect.firstRows(1);
    return (await this.session.all(`SELECT ${afterSelect}1 AS ${this.dialect.quote('one')} FROM ${relation}${atEnd}`)).length === 0;
  }

  private async count(relation: string): Promise<number> {
    const rows = await this.session.all(`SELECT COUNT(*) AS ${this.dialect.quote('n')} FROM ${relation}`);
    return Number(rows[0]?.['n'] ?? 0);
  }

  private async drop(table: string): Promise<void> {
    const key = this.key(table);
    if (this.forgotten.has(key)) return;
    await this.session.run(`DROP TABLE IF EXISTS ${this.dialect.relation(digestName(table, this.dialect.foldsCase))}`);
    this.forgotten.add(key);
  }

  private digestTarget(table: string): Target {
    const spec = digestSpec(table, this.dialect.foldsCase);
    return { spec, relation: this.dialect.relation(spec.name) };
  }

  private snapshotOf(table: string, what: string): Snapshot {
    const snapshot = this.open.get(this.key(table));
    if (snapshot === undefined) throw new StoreSchemaError(`table ${table}: ${what} without beginSnapshot in this transaction`);
    return snapshot;
  }

  private key(table: string): string {
    return this.dialect.foldsCase ? table.toLowerCase() : table;
  }
}
