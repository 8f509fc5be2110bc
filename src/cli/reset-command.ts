import { targetId, type PushTargetConfig } from '../push/push-config.js';
import { emptyDataset } from '../push/automation-client.js';
import type { TargetState } from '../store/delivery.js';
import type { CliContext } from './context.js';
import { UsageError } from './usage-error.js';

/**
 * `reset <stream>`: forgets the cursor, so the stream's next run is a full load that rebuilds its
 * tables. A stream whose records are pushed to Opendatasoft must start again from an empty dataset
 * (ODS cannot tell which of its records came from us): each target is emptied first through its
 * Automation API, its delivered state forgotten and every record queued again; without an
 * Automation key the reset is refused, since deleting record by record what was delivered would
 * not remove what others pushed, nor survive a changed shape.
 */
export async function resetCommand(context: CliContext, streamId: string, options: { readonly pollMs?: number } = {}): Promise<void> {
  const store = await context.openStore();
  try {
    const state = await store.readState(streamId);
    if (!state) throw new UsageError(`no stream ${streamId} in the store; see \`dataspace-sync status\``);
    const job = context.loaded.config.jobs.find((candidate) => candidate.id === state.jobId);
    const targets: PushTargetConfig[] = job?.push ?? [];
    const keyless = targets.filter((target) => target.automation === undefined);
    if (keyless.length > 0) {
      throw new UsageError(
        `${streamId} pushes its records to Opendatasoft (${keyless.map((target) => targetId(streamId, target)).join(', ')}): a reset must empty the dataset first, ` +
          'which needs an Automation API key (push[].automation.apiKey); without it the dataset would keep records the reloaded mirror no longer has. Nothing was reset.',
      );
    }
    const signal = new AbortController().signal;
    const known = await store.targetStates();
    for (const target of targets) {
      const id = targetId(streamId, target);
      const before: TargetState = known.find((entry) => entry.target === id) ?? {
        target: id,
        streamId,
        lastSuccessAt: null,
        lastError: null,
        lastErrorAt: null,
        consecutiveFailures: 0,
        delivered: 0,
        setAside: [],
        restartPending: false,
      };
      // Marked first: a reset interrupted after emptying the dataset must not let the pusher trust the old delivered state.
      await store.writeTargetState({ ...before, restartPending: true });
      const { uid } = await emptyDataset(target, { http: await context.http(), signal, ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }) });
      await store.restartDelivery({ id, streamId });
      process.stdout.write(context.scrub(`${id}: dataset ${uid} emptied (unpublished, then published); every record will be pushed again\n`));
    }
    await store.transaction((tx) => tx.writeState({ ...state, cursor: null, status: 'idle', consecutiveFailures: 0, lastError: null }));
    process.stdout.write(`${streamId}: cursor cleared; the next run is a full load\n`);
  } finally {
    await store.close();
  }
}
