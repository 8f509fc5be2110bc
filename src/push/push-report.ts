import type { OutboxSummary, TargetState } from '../store/delivery.js';

/** What /status, the status page, /metrics, /readyz and `status` say about one push target. */
export interface PushReport {
  readonly target: string;
  readonly stream: string;
  /** Outbox entries not delivered yet (changed keys or scopes, not records). */
  readonly outboxDepth: number;
  /** When the oldest undelivered change was committed; null when everything is delivered. */
  readonly oldestChangeAt: string | null;
  /** Push lag: the age of the oldest undelivered change, in seconds; 0 when there is none. */
  readonly lagSeconds: number;
  readonly lastSuccessAt: string | null;
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
  readonly consecutiveFailures: number;
  /** Records written or deleted at the target so far. */
  readonly delivered: number;
  /** Records that could not be pushed (too big), as reported. */
  readonly setAside: readonly string[];
  readonly alertAfterSeconds: number | null;
  /** The push lag is past alertAfter: /readyz is red. */
  readonly alerting: boolean;
}

/** The targets known from the config (with their alert thresholds) and from the store (targets of jobs no longer configured never alert). */
export function buildPushReports(
  configured: readonly { readonly target: string; readonly stream: string; readonly alertAfterMs: number }[],
  states: readonly TargetState[],
  summaries: readonly OutboxSummary[],
  now: Date,
): PushReport[] {
  const ids = [...new Set([...configured.map((entry) => entry.target), ...states.map((state) => state.target), ...summaries.map((summary) => summary.target)])].sort();
  return ids.map((id) => {
    const config = configured.find((entry) => entry.target === id);
    const state = states.find((entry) => entry.target === id);
    const summary = summaries.find((entry) => entry.target === id);
    const oldest = summary?.oldestAt ?? null;
    const lagMs = oldest === null ? 0 : Math.max(0, now.getTime() - Date.parse(oldest));
    return {
      target: id,
      stream: config?.stream ?? state?.streamId ?? id.split('>')[0] ?? id,
      outboxDepth: summary?.depth ?? 0,
      oldestChangeAt: oldest,
      lagSeconds: Math.round(lagMs / 1000),
      lastSuccessAt: state?.lastSuccessAt ?? null,
      lastError: state?.lastError ?? null,
      lastErrorAt: state?.lastErrorAt ?? null,
      consecutiveFailures: state?.consecutiveFailures ?? 0,
      delivered: state?.delivered ?? 0,
      setAside: state?.setAside ?? [],
      alertAfterSeconds: config ? Math.round(config.alertAfterMs / 1000) : null,
      alerting: config !== undefined && lagMs > config.alertAfterMs,
    };
  });
}
