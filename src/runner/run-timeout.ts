import { formatDuration } from '../core/duration.js';

/**
 * A run that went on past its `runTimeout`: it was aborted and rolled back to its last checkpoint.
 * Unlike a shutdown, this is the stream's failure (a server trickling an endless body, a stalled
 * export): it is counted, recorded as the last error and backed off, so an operator sees it.
 */
export class RunTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(
      `the run timed out after ${formatDuration(timeoutMs)} and was rolled back to its last checkpoint ` +
        "(runTimeout: raise the job's runTimeout or defaults.runTimeout if runs of this stream take longer)",
    );
    this.name = 'RunTimeoutError';
  }
}

/**
 * The run's signal: the caller's (a shutdown), plus an abort with a RunTimeoutError once `timeoutMs`
 * has passed. `timedOut` tells the two apart after the fact; `clear` stops the timer.
 */
export function runDeadline(
  signal: AbortSignal,
  timeoutMs: number | undefined,
): { readonly signal: AbortSignal; timedOut(): boolean; clear(): void } {
  if (timeoutMs === undefined) return { signal, timedOut: () => false, clear: () => undefined };
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new RunTimeoutError(timeoutMs)), timeoutMs);
  const combined = AbortSignal.any([signal, deadline.signal]);
  return {
    signal: combined,
    // Whichever came first wins: a shutdown stays a shutdown if the deadline passes while it rolls back.
    timedOut: () => combined.aborted && combined.reason === deadline.signal.reason,
    clear: () => clearTimeout(timer),
  };
}
