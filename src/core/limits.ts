/**
 * Bounds on what one remote answer may make the daemon hold or write (docs/limits.md), so that a
 * hostile or broken remote cannot exhaust memory or disk. An operator sets them per job or in
 * `defaults.limits`; each kind of source has its own defaults and uses the keys that apply to it.
 */
export interface SourceLimits {
  /** Bytes of one response as received (before decompression). */
  readonly responseBytes: number;
  /** Bytes of one response after decompression (a gzip bomb stops here). */
  readonly decodedBytes: number;
  /** Bytes of an answer read whole before it is parsed (an RPDE page, an SDMX structure, an ODS API answer). */
  readonly documentBytes: number;
  /** Bytes of one line (a CSV record, a JSON Lines record, an item of a JSON array export). */
  readonly lineBytes: number;
  /** Bytes of one CSV cell. */
  readonly cellBytes: number;
  /** SDMX-CSV rows in one response. */
  readonly rowsPerResponse: number;
  /** Items in one RPDE page. */
  readonly itemsPerPage: number;
  /** Records (or datasets) in one ODS export. */
  readonly recordsPerResponse: number;
}

export type LimitKey = keyof SourceLimits;

export const LIMIT_KEYS: readonly LimitKey[] = [
  'responseBytes',
  'decodedBytes',
  'documentBytes',
  'lineBytes',
  'cellBytes',
  'rowsPerResponse',
  'itemsPerPage',
  'recordsPerResponse',
];

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/**
 * The defaults every kind starts from (docs/limits.md). Large enough for the biggest real answers
 * seen (an SDMX full load of tens of millions of observations, an ODS export of millions of
 * records), small enough that a remote answering without end stops long before the disk fills.
 */
export const DEFAULT_LIMITS: SourceLimits = Object.freeze({
  responseBytes: 4 * GiB,
  decodedBytes: 4 * GiB,
  documentBytes: 64 * MiB,
  lineBytes: 16 * MiB,
  cellBytes: 4 * MiB,
  rowsPerResponse: 50_000_000,
  itemsPerPage: 50_000,
  recordsPerResponse: 50_000_000,
});

/** Limits as an operator wrote them (sizes parsed): any subset. */
export type GivenLimits = Partial<Record<LimitKey, number>>;

/** A kind's defaults, overridden by `defaults.limits`, overridden by the job's own `limits`. */
export function resolveLimits(kindDefaults: SourceLimits, ...given: (GivenLimits | undefined)[]): SourceLimits {
  const resolved: Record<LimitKey, number> = { ...kindDefaults };
  for (const layer of given) {
    for (const key of LIMIT_KEYS) {
      const value = layer?.[key];
      if (value !== undefined) resolved[key] = value;
    }
  }
  return resolved;
}

/** What went past a limit; the message names the limit, its value and the config key to raise. */
export class LimitExceededError extends Error {
  constructor(
    readonly key: LimitKey,
    readonly limit: number,
    /** What exceeded it, e.g. `dataflow A:B(1.0): line 12` (the stream is named by the runner). */
    readonly what: string,
  ) {
    super(
      `${what} exceeds limits.${key} (${formatLimit(key, limit)}); nothing of it is applied. ` +
        `If the remote is right, raise "limits": {"${key}": ...} in the job or in defaults.limits`,
    );
    this.name = 'LimitExceededError';
  }

  /** The same error, said of something more precise (`what` prefixed, e.g. with the dataflow). */
  within(prefix: string): LimitExceededError {
    return new LimitExceededError(this.key, this.limit, `${prefix}${this.what}`);
  }
}

const BYTE_KEYS = new Set<LimitKey>(['responseBytes', 'decodedBytes', 'documentBytes', 'lineBytes', 'cellBytes']);
const COUNT_UNITS: Partial<Record<LimitKey, string>> = { rowsPerResponse: 'rows', itemsPerPage: 'items', recordsPerResponse: 'records' };

/** `64 MiB`, `1,000 items`. */
export function formatLimit(key: LimitKey, value: number): string {
  if (BYTE_KEYS.has(key)) return formatBytes(value);
  return `${value.toLocaleString('en-US')} ${COUNT_UNITS[key] ?? ''}`.trim();
}

export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes.toLocaleString('en-US')} bytes`;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/;
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };

/** A size as written in the config: `1048576`, `512KiB`, `64MiB`, `2GB` (KB/MB/GB decimal, KiB/MiB/GiB binary). */
export function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (match === null) return undefined;
  const bytes = Math.floor(Number(match[1]) * (SIZE_UNITS[match[2] ?? 'B'] as number));
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** Whether `text` takes more than `limit` bytes in UTF-8, without encoding it unless it might. */
export function longerThanBytes(text: string, limit: number): boolean {
  // A UTF-16 code unit takes 1 to 3 bytes (a surrogate pair 4 for 2 units).
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return Buffer.byteLength(text, 'utf8') > limit;
}
