import { isRecord, type JsonValue } from './json.js';

/**
 * Problems a source found with its remote without failing on them (an RPDE feed breaking the
 * spec, a portal answering without a field it should have), counted per check across runs and
 * kept in the stream's checkpoint `details`, where `status` and `/status` show them.
 */
export type FindingSeverity = 'error' | 'warning' | 'info';

export interface Finding {
  readonly severity: FindingSeverity;
  /** What the check is about, the same for every finding of it. */
  readonly title: string;
  /** How many times it was found, across runs. */
  readonly count: number;
  /** The first few examples of the latest run that found it. */
  readonly samples: readonly string[];
  /** When it was last found (ISO 8601). */
  readonly lastAt: string;
}

/** Findings by check id (`C26`, `C1:429`...). */
export type Findings = Readonly<Record<string, Finding>>;

/** Where findings live in a stream's details (the name RPDE feeds have always used). */
const FINDINGS_KEY = 'conformance';

/** Details that carry `findings` besides the source's own facts. */
export function detailsWithFindings(facts: Readonly<Record<string, JsonValue>>, findings: Findings): JsonValue {
  const json: Record<string, JsonValue> = {};
  for (const [check, finding] of Object.entries(findings)) json[check] = { ...finding, samples: [...finding.samples] };
  return { ...facts, [FINDINGS_KEY]: json };
}

/**
 * The findings kept in a stream's details; undefined when its source keeps none. Entries that do
 * not have the shape (written by an older version, edited by hand) are left out.
 */
export function findingsOf(details: JsonValue | undefined): Findings | undefined {
  const saved = isRecord(details) ? details[FINDINGS_KEY] : undefined;
  if (!isRecord(saved)) return undefined;
  const findings: Record<string, Finding> = {};
  for (const [check, value] of Object.entries(saved)) {
    if (!isRecord(value) || !isSeverity(value['severity']) || typeof value['count'] !== 'number') continue;
    const samples = Array.isArray(value['samples']) ? value['samples'].filter((sample): sample is string => typeof sample === 'string') : [];
    findings[check] = {
      severity: value['severity'],
      title: typeof value['title'] === 'string' ? value['title'] : check,
      count: value['count'],
      samples,
      lastAt: typeof value['lastAt'] === 'string' ? value['lastAt'] : new Date(0).toISOString(),
    };
  }
  return findings;
}

function isSeverity(value: unknown): value is FindingSeverity {
  return value === 'error' || value === 'warning' || value === 'info';
}
