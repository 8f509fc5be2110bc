import { createHash } from 'node:crypto';
import { assertIdentifier, MAX_IDENTIFIER_LENGTH } from '../../core/identifiers.js';
import { normaliseFeedUrl } from './feed-url.js';

export interface FeedEntry {
  readonly url: string;
  readonly prefix?: string | undefined;
}

export interface NamedFeed {
  /** Position of the entry in the list given to nameFeeds (the first, when a URL was given twice). */
  readonly index: number;
  readonly url: string;
  /** Short, stable, unique within the job: `session-series`; part of the stream id. */
  readonly name: string;
  /** Table prefix: the mirror is `{prefix}_items`. */
  readonly prefix: string;
}

const TABLE_SUFFIX = '_items';

/** A feed's table. */
export function itemsTable(prefix: string): string {
  return `${prefix}${TABLE_SUFFIX}`;
}

/**
 * Names a job's feeds after their URL paths: the last path segment (`/feeds/session-series` ->
 * `session-series`), more segments or the host where two feeds would share a name, a counter
 * only as a last resort. Names depend on the URLs alone (not on their order) wherever the URLs
 * differ, so stream ids survive a catalog listing its feeds in another order. The same URL given
 * twice is one feed. Two feeds given the same prefix are not refused here: the kind checks the
 * tables of all its jobs together.
 */
export function nameFeeds(jobId: string, entries: readonly FeedEntry[]): NamedFeed[] {
  const unique: (FeedEntry & { index: number })[] = [];
  const seenUrls = new Set<string>();
  entries.forEach((entry, index) => {
    const key = normaliseFeedUrl(entry.url);
    if (seenUrls.has(key)) return;
    seenUrls.add(key);
    unique.push({ ...entry, index });
  });

  const candidates = unique.map((entry) => nameCandidates(entry.url));
  const level = unique.map(() => 0);
  const nameAt = (i: number) => (candidates[i] as string[])[level[i] as number] as string;
  for (;;) {
    const groups = groupBy(unique.map((_, i) => i), nameAt);
    let grew = false;
    for (const members of groups.values()) {
      if (members.length < 2) continue;
      for (const i of members) {
        if ((level[i] as number) < (candidates[i] as string[]).length - 1) {
          level[i] = (level[i] as number) + 1;
          grew = true;
        }
      }
    }
    if (!grew) break;
  }
  const used = new Map<string, number>();
  const names = unique.map((_, i) => {
    const base = nameAt(i);
    const count = (used.get(base) ?? 0) + 1;
    used.set(base, count);
    return count === 1 ? base : `${base}-${count}`;
  });

  return unique.map((entry, i) => {
    const name = names[i] as string;
    const prefix = entry.prefix ?? defaultPrefix(jobId, name);
    assertIdentifier(itemsTable(prefix), `table of RPDE feed ${entry.url} (prefix ${JSON.stringify(prefix)})`);
    return { index: entry.index, url: entry.url, name, prefix };
  });
}

/** From the most to the least specific: last segment, last two... then with the host. */
function nameCandidates(url: string): string[] {
  const parsed = new URL(url);
  const segments = parsed.pathname
    .split('/')
    .map((segment) => slug(safeDecode(segment)))
    .filter((segment) => segment.length > 0);
  const host = slug(parsed.host);
  const candidates: string[] = [];
  for (let count = 1; count <= segments.length; count += 1) candidates.push(segments.slice(-count).join('-'));
  candidates.push([host, ...segments].join('-'));
  return candidates.map((candidate) => candidate.slice(0, 60).replace(/-+$/, '') || 'feed');
}

const PREFIX_ROOM = MAX_IDENTIFIER_LENGTH - TABLE_SUFFIX.length;
const HASH_LENGTH = 8;
/** What a shortened prefix keeps of its start: the rest becomes `_` and a hash. */
const KEPT_START = PREFIX_ROOM - HASH_LENGTH - 1;

function unshortenedPrefix(jobId: string, name: string): string {
  const prefix = `${jobId}_${name}`.replace(/[^A-Za-z0-9_]+/g, '_');
  return /^[A-Za-z]/.test(prefix) ? prefix : `rpde_${prefix}`;
}

function defaultPrefix(jobId: string, name: string): string {
  let prefix = unshortenedPrefix(jobId, name);
  if (prefix.length > PREFIX_ROOM) {
    const hash = createHash('sha256').update(prefix).digest('hex').slice(0, HASH_LENGTH);
    prefix = `${prefix.slice(0, KEPT_START)}_${hash}`;
  }
  return prefix;
}

/**
 * How the table of every feed of the job named by default starts (the feeds a dataset site lists
 * are), whatever their names: the job's part of the default prefix, which shortening keeps.
 */
export function defaultTableStart(jobId: string): string {
  return unshortenedPrefix(jobId, '').slice(0, KEPT_START);
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function groupBy<T>(values: readonly T[], key: (value: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const value of values) {
    const k = key(value);
    const group = groups.get(k);
    if (group) group.push(value);
    else groups.set(k, [value]);
  }
  return groups;
}
