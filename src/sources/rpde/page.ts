import { isRecord } from '../../core/json.js';
import type { FindingRecorder } from './finding-log.js';
import { modifiedFromNumberText, modifiedFromString, type ModifiedValue } from './modified-key.js';
import { MAX_ITEM_NESTING, scanPage, type ItemSpans, type Span } from './page-scan.js';

/** One usable item of a page, its values kept exactly as the feed wrote them. */
export interface RpdeItem {
  /** The id as text: a string id as is, a numeric id as its source digits (never via Number). */
  readonly id: string;
  readonly kind: string | null;
  readonly state: 'updated' | 'deleted';
  readonly modified: ModifiedValue;
  /** The `data` object as JSON text; undefined when an updated item carries none (keep what is stored). */
  readonly data: string | undefined;
  /** Position in the page's `items` array, for messages. */
  readonly index: number;
}

export interface RpdePage {
  /** `next` exactly as written in the page. */
  readonly next: string;
  /** The usable items in page order; unusable ones are reported and left out. */
  readonly items: readonly RpdeItem[];
  /** Length of the page's `items` array, usable or not (an empty page is the last-page signal). */
  readonly itemCount: number;
}

/** The page cannot be used at all (not JSON, no `next` or `items`): nothing of it is applied. */
export class RpdePageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RpdePageError';
  }
}

const SAFE_LIMIT = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Decodes an RPDE page and records what is wrong with it in `report` (checks C4, C5, C11-C18,
 * C30, C37, C38). Problems with single items skip those items; only an unusable envelope throws,
 * and a page of more than `maxItems` items (LimitExceededError, before it is parsed).
 */
export function decodePage(text: string, pageUrl: string, report: FindingRecorder, maxItems = Number.MAX_SAFE_INTEGER): RpdePage {
  let body = text;
  if (body.charCodeAt(0) === 0xfeff) {
    report.record('C4', `byte order mark before the JSON at ${pageUrl}`);
    body = body.slice(1);
  }
  const { tooDeep, spans } = scanPage(body, maxItems, pageUrl);
  let root: unknown;
  try {
    root = JSON.parse(body);
  } catch (error) {
    const start = body.trimStart().slice(0, 60).replace(/\s+/g, ' ');
    report.record('C4', `not JSON at ${pageUrl}: ${JSON.stringify(start)}`);
    throw new RpdePageError(`page ${pageUrl} is not JSON (${(error as Error).message}); it starts with ${JSON.stringify(start)}`);
  }
  if (!isRecord(root)) {
    report.record('C4', `the JSON at ${pageUrl} is not an object`);
    throw new RpdePageError(`page ${pageUrl} is not a JSON object`);
  }

  const next = root['next'];
  const items = root['items'];
  if (typeof next !== 'string' || next.length === 0) {
    report.record('C5', `next ${next === undefined ? 'missing' : 'not a non-empty string'} at ${pageUrl}`);
    throw new RpdePageError(`page ${pageUrl}: "next" is ${next === undefined ? 'missing' : 'not a non-empty string'}`);
  }
  if (!Array.isArray(items)) {
    report.record('C5', `items ${items === undefined ? 'missing' : 'not an array'} at ${pageUrl}`);
    throw new RpdePageError(`page ${pageUrl}: "items" is ${items === undefined ? 'missing' : 'not an array'}`);
  }
  checkRootKeys(root, pageUrl, report);

  // Exact text of each item's id, modified and data: JSON.parse rounds big integers.
  const source = (span: Span | undefined) => (span === undefined ? undefined : body.slice(span[0], span[1]));
  const decoded: RpdeItem[] = [];
  items.forEach((raw: unknown, index: number) => {
    if (tooDeep.has(index)) {
      const id = isRecord(raw) && (typeof raw['id'] === 'string' || typeof raw['id'] === 'number') ? ` id ${JSON.stringify(source(spans[index]?.id) ?? raw['id'])}` : '';
      report.record('C38', `items[${index}]${id} at ${pageUrl} nests more than ${MAX_ITEM_NESTING} levels (skipped)`);
      return;
    }
    const item = decodeItem(raw, index, spans[index] ?? {}, source, pageUrl, report);
    if (item) decoded.push(item);
  });
  return { next, items: decoded, itemCount: items.length };
}

function checkRootKeys(root: Record<string, unknown>, pageUrl: string, report: FindingRecorder): void {
  const license = root['license'];
  if (license === undefined) {
    report.record('C5', `license missing${'licence' in root ? ' ("licence" spelling used)' : ''} at ${pageUrl}`);
  } else if (typeof license !== 'string') {
    report.record('C5', `license is not a string at ${pageUrl}`);
  }
  const jsonLdKeys = Object.keys(root).filter((key) => key.startsWith('@'));
  if (jsonLdKeys.length > 0) report.record('C30', `${jsonLdKeys.join(', ')} at ${pageUrl}`);
  const declared = ['version', 'feedObjects', 'opportunityModelVersion', 'oppportunityModelVersion'].filter((key) => key in root);
  if (declared.length > 0) report.record('C37', `${declared.join(', ')} at ${pageUrl}`);
}

function decodeItem(
  raw: unknown,
  index: number,
  spans: ItemSpans,
  source: (span: Span | undefined) => string | undefined,
  pageUrl: string,
  report: FindingRecorder,
): RpdeItem | undefined {
  // Messages are built only when something is reported: most items have nothing to say.
  const where = () => `items[${index}] at ${pageUrl}`;
  if (!isRecord(raw)) {
    report.record('C11', `${where()} is not an object`);
    return undefined;
  }
  const id = decodeId(raw['id'], () => source(spans.id), where, report);
  const label = () => (id === undefined ? where() : `id ${JSON.stringify(id)} (${where()})`);
  const state = decodeState(raw['state'], label, report);
  const modified = decodeModified(raw['modified'], () => source(spans.modified), label, report);
  const kind = decodeKind(raw['kind'], label, report);
  if (id === undefined || state === undefined || modified === undefined) return undefined;

  const data = raw['data'];
  const hasData = data !== undefined && data !== null;
  if (state === 'updated' && !hasData) {
    report.record('C13', `${label()}: updated without data (stored data kept)`);
  } else if (state === 'deleted' && data !== undefined) {
    report.record('C13', `${label()}: deleted with data (ignored)`);
  }
  return {
    id,
    kind,
    state,
    modified,
    // As the publisher wrote it: nothing re-serialized, every number exact.
    data: state === 'updated' && hasData ? (source(spans.data) ?? JSON.stringify(data)) : undefined,
    index,
  };
}

function decodeId(
  value: unknown,
  token: () => string | undefined,
  where: () => string,
  report: FindingRecorder,
): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number') {
    const digits = token() ?? String(value);
    const unsafe = /^-?\d+$/.test(digits) && absolute(BigInt(digits)) > SAFE_LIMIT;
    report.record(unsafe ? 'C15:unsafe' : 'C15', () => `id ${digits} is a number (${where()})`);
    return digits;
  }
  report.record('C11', `${where()}: id ${value === undefined ? 'missing' : 'neither a non-empty string nor a number'} (skipped)`);
  return undefined;
}

function decodeState(value: unknown, label: () => string, report: FindingRecorder): 'updated' | 'deleted' | undefined {
  if (value === 'updated' || value === 'deleted') return value;
  if (value === undefined) {
    report.record('C11', `${label()}: state missing (skipped)`);
    return undefined;
  }
  const lower = typeof value === 'string' ? value.toLowerCase() : undefined;
  if (lower === 'updated' || lower === 'deleted') {
    report.record('C12:case', `${label()}: state ${JSON.stringify(value)} read as "${lower}"`);
    return lower;
  }
  report.record('C12', `${label()}: state ${JSON.stringify(value)} (skipped)`);
  return undefined;
}

function decodeModified(
  value: unknown,
  token: () => string | undefined,
  label: () => string,
  report: FindingRecorder,
): ModifiedValue | undefined {
  let modified: ModifiedValue | undefined;
  if (typeof value === 'string') modified = modifiedFromString(value);
  else if (typeof value === 'number') modified = modifiedFromNumberText(token() ?? String(value));
  if (modified === undefined) {
    report.record('C11', `${label()}: modified ${value === undefined ? 'missing' : 'neither a number nor a string'} (skipped)`);
    return undefined;
  }
  const found = modified;
  if (found.form === 'integer-string') report.record('C16', () => `${label()}: modified "${found.raw}"`);
  else if (found.form !== 'integer') report.record('C17', () => `${label()}: modified ${JSON.stringify(found.raw)}`);
  else if (found.raw.length >= 16 && absolute(BigInt(found.raw)) > SAFE_LIMIT) {
    report.record('C18', () => `${label()}: modified ${found.raw}`);
  }
  return modified;
}

function decodeKind(value: unknown, label: () => string, report: FindingRecorder): string | null {
  if (typeof value === 'string') return value;
  if (value === undefined) report.record('C11', `${label()}: kind missing`);
  else report.record('C14', `${label()}: kind ${JSON.stringify(value)} is not a string`);
  return null;
}

function absolute(value: bigint): bigint {
  return value < 0n ? -value : value;
}

