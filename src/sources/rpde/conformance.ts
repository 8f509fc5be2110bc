import { findingsOf, type Finding, type Findings, type FindingSeverity } from '../../core/findings.js';
import type { JsonValue } from '../../core/json.js';

/**
 * The passive conformance checks (docs/rpde.md, "Conformance checks"), run while harvesting at no extra cost.
 * A variant after `:` splits one check where the research asks to report cases apart (a case-only
 * `state` mismatch, an id-only ordering problem, which HTTP status).
 */

export const CHECKS = {
  'C1': { severity: 'error', title: 'HTTP status other than 200' },
  'C1:429': { severity: 'error', title: 'HTTP 429 Too Many Requests' },
  'C1:503': { severity: 'error', title: 'HTTP 503 Service Unavailable' },
  'C1:404': { severity: 'error', title: 'HTTP 404/410: the feed is gone' },
  'C1:403': { severity: 'error', title: 'HTTP 403 (rate limit or WAF?)' },
  'C2': { severity: 'error', title: 'Content-Type is not application/json or application/vnd.openactive.rpde+json' },
  'C3': { severity: 'warning', title: 'Cache-Control: pages with items should be public, max-age>=3600; the last page public, max-age<=8' },
  'C4': { severity: 'error', title: 'body is not a JSON object (HTML, truncated, BOM...)' },
  'C5': { severity: 'error', title: 'envelope: next, items or license missing or of the wrong type' },
  'C6': { severity: 'error', title: 'next is not an absolute URL (resolved against the page URL)' },
  'C7': { severity: 'warning', title: 'next goes to another host or path' },
  'C7:refused': { severity: 'error', title: 'next or a redirect goes to an origin that is not allowed: not followed' },
  'C8': { severity: 'error', title: 'self-loop: next equals the page URL while items is not empty' },
  'C8:cycle': { severity: 'error', title: 'cycle: next leads back to a page already read in this run' },
  'C9': { severity: 'warning', title: 'last page: next matches the page URL only after normalisation' },
  'C10': { severity: 'info', title: 'empty page that is not the last (in-stream filtering): followed' },
  'C11': { severity: 'error', title: 'item without id, state, kind or modified' },
  'C12': { severity: 'error', title: 'item state is not "updated" or "deleted": skipped' },
  'C12:case': { severity: 'warning', title: 'item state differs from "updated"/"deleted" only in case' },
  'C13': { severity: 'error', title: 'data absent on an updated item, or present on a deleted one' },
  'C14': { severity: 'error', title: 'kind is not a string' },
  'C14:changed': { severity: 'warning', title: 'the same id seen with a different kind' },
  'C15': { severity: 'info', title: 'id is a number (stored as its text)' },
  'C15:unsafe': { severity: 'warning', title: 'numeric id above 2^53 (unsafe for JavaScript consumers)' },
  'C16': { severity: 'error', title: 'modified is a string containing an integer' },
  'C17': { severity: 'warning', title: 'modified is not an integer' },
  'C18': { severity: 'info', title: 'modified above 2^53' },
  'C19': { severity: 'error', title: 'next cursor parameters malformed or mixing strategies' },
  'C20': { severity: 'warning', title: "next cursor differs from the last item's modified/id" },
  'C21': { severity: 'error', title: 'modified goes backwards from one page to the next' },
  'C21:id': { severity: 'warning', title: 'id goes backwards from one page to the next at equal modified' },
  'C22': { severity: 'error', title: 'items within a page not in ascending modified order' },
  'C22:id': { severity: 'warning', title: 'items with equal modified not in ascending id order' },
  'C23': { severity: 'error', title: 'first item equals the request cursor (">=" instead of ">")' },
  'C24': { severity: 'error', title: 'duplicate id within one page' },
  'C25': { severity: 'error', title: 'the same id seen twice in one run (pages not publicly cacheable)' },
  'C25:cached': { severity: 'info', title: 'the same id seen twice in one run (publicly cached pages may be stale)' },
  'C26': { severity: 'error', title: 'modified regresses for an id already seen or stored: the older version is not applied' },
  'C26:form': {
    severity: 'error',
    title: 'modified switched between string and integer: stored strings sort after every integer, so those items are not updated until their table is dropped and the stream reset',
  },
  'C27': { severity: 'warning', title: 'no deleted item seen in a full pass' },
  'C28': { severity: 'warning', title: 'page with fewer than 500 items before the end of the feed' },
  'C29': { severity: 'warning', title: 'unencoded reserved characters in the next URL query' },
  'C30': { severity: 'warning', title: 'JSON-LD keys (@context, @type...) in the envelope' },
  'C31': { severity: 'error', title: 'items vanished without a deleted state (found by a resync)' },
  'C36:redirect': { severity: 'info', title: 'a page request was redirected (followed: at most 5, within the allowed origins)' },
  'C37': { severity: 'info', title: 'version / feedObjects declared (RPDE 1.1 draft)' },
  'C38': { severity: 'error', title: 'item nested more than 64 levels deep (objects and arrays): skipped, as not every store can hold it' },
} as const satisfies Record<string, { severity: FindingSeverity; title: string }>;

export type CheckId = keyof typeof CHECKS;

const MAX_SAMPLES = 3;
const MAX_SAMPLE_LENGTH = 240;

interface Counted {
  count: number;
  samples: string[];
  lastAtMs: number;
}

/**
 * Findings per check, accumulated across pages and runs and kept in the stream's checkpoint
 * `details`: counts and the few latest samples only, so the sync_state row stays small.
 */
export class ConformanceReport {
  private readonly findings = new Map<CheckId, Counted>();
  private readonly inRun = new Map<CheckId, number>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Restores the counts kept in a previous checkpoint's details. */
  static fromDetails(details: JsonValue, now?: () => Date): ConformanceReport {
    const report = new ConformanceReport(now);
    for (const [id, saved] of Object.entries(findingsOf(details) ?? {})) {
      if (!(id in CHECKS)) continue;
      const lastAtMs = Date.parse(saved.lastAt);
      report.findings.set(id as CheckId, {
        count: saved.count,
        samples: saved.samples.slice(-MAX_SAMPLES),
        lastAtMs: Number.isNaN(lastAtMs) ? 0 : lastAtMs,
      });
    }
    return report;
  }

  /**
   * Counts a finding. Samples are the first few of the current run (older runs' samples give way
   * to them), so a check that fires on every item builds its message only a few times: pass a
   * function to have it built only when kept.
   */
  record(check: CheckId, sample: string | (() => string), count = 1): void {
    let finding = this.findings.get(check);
    if (finding === undefined) {
      finding = { count: 0, samples: [], lastAtMs: 0 };
      this.findings.set(check, finding);
    }
    const inRun = this.inRun.get(check) ?? 0;
    if (inRun === 0) finding.samples = [];
    if (finding.samples.length < MAX_SAMPLES) {
      const text = typeof sample === 'string' ? sample : sample();
      finding.samples.push(text.length > MAX_SAMPLE_LENGTH ? `${text.slice(0, MAX_SAMPLE_LENGTH - 3)}...` : text);
    }
    finding.count += count;
    finding.lastAtMs = this.now().getTime();
    this.inRun.set(check, inRun + count);
  }

  /** Total count of a check, across runs. */
  count(check: CheckId): number {
    return this.findings.get(check)?.count ?? 0;
  }

  /** Counts recorded since this report was restored (this run), for log lines. */
  recordedInRun(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.inRun);
  }

  toFindings(): Findings {
    const entries = [...this.findings.entries()].sort(([a], [b]) => compareCheckIds(a, b));
    const findings: Record<string, Finding> = {};
    for (const [id, finding] of entries) {
      findings[id] = {
        severity: CHECKS[id].severity,
        title: CHECKS[id].title,
        count: finding.count,
        samples: [...finding.samples],
        lastAt: new Date(finding.lastAtMs).toISOString(),
      };
    }
    return findings;
  }
}

function compareCheckIds(a: string, b: string): number {
  const number = (id: string) => Number(id.slice(1).split(':')[0]);
  return number(a) - number(b) || a.localeCompare(b);
}
