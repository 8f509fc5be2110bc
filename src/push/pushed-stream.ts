import type { StreamSource } from '../core/source.js';
import type { DeliveryTarget, OutboxTracking } from '../store/delivery.js';
import { targetId, targetName, type PushTargetConfig } from './push-config.js';

/** One target a stream's records are pushed to, resolved from the config. */
export interface PushTarget {
  readonly name: string;
  readonly config: PushTargetConfig;
  /** The target as the store knows it (its id, the stream, the records). */
  readonly delivery: DeliveryTarget;
  /** Undelivered changes older than this turn /readyz red. */
  readonly alertAfterMs: number;
}

/** A stream whose records are pushed: its targets, and what its transactions record in the outbox for them. */
export interface PushedStream {
  readonly targets: readonly PushTarget[];
  readonly outbox: OutboxTracking;
}

/**
 * The push of a job's stream, or undefined when the job pushes nothing or the stream publishes no
 * records (an SDMX dataflow's referential metadata).
 */
export function pushedStream(
  source: StreamSource,
  targets: readonly PushTargetConfig[] | undefined,
  alertAfterMs: (target: PushTargetConfig) => number,
): PushedStream | undefined {
  const records = source.records;
  if (targets === undefined || targets.length === 0 || records === undefined) return undefined;
  const resolved = targets.map((config) => ({
    name: targetName(config),
    config,
    delivery: { id: targetId(source.id, config), streamId: source.id, records },
    alertAfterMs: alertAfterMs(config),
  }));
  return {
    targets: resolved,
    outbox: { targets: resolved.map((target) => target.delivery.id), relation: records.relation, ...(records.key ? { key: records.key } : {}) },
  };
}
