/**
 * SIGTERM and SIGINT for a long-running command. The handlers are installed before anything else:
 * node as PID 1 (in a container) ignores a signal it has no handler for, so a SIGTERM during
 * start-up would be lost and `docker stop` would end in SIGKILL.
 *
 * The first signal asks for a graceful stop (the registered handler, once); a signal that comes
 * before the handler is registered is remembered in `requested`, so start-up can give up at its
 * next step. A second signal while stopping exits at once: an operator pressing Ctrl-C twice
 * means it, and whatever transaction was open rolls back when the store is next opened.
 */
export interface ShutdownSignals {
  /** The first signal received, if any. */
  readonly requested: string | undefined;
  /** Registers the graceful stop; called at once if a signal already came. */
  onStop(handler: (signal: string) => void): void;
}

export function trapShutdownSignals(options: { readonly onForce?: (signal: string) => void } = {}): ShutdownSignals {
  let requested: string | undefined;
  let handler: ((signal: string) => void) | undefined;
  let handled = false;
  const run = () => {
    if (handled || handler === undefined || requested === undefined) return;
    handled = true;
    handler(requested);
  };
  const receive = (signal: string) => {
    if (requested !== undefined && handled) {
      options.onForce?.(signal);
      process.exit(1);
    }
    requested ??= signal;
    run();
  };
  process.on('SIGTERM', () => receive('SIGTERM'));
  process.on('SIGINT', () => receive('SIGINT'));
  return {
    get requested() {
      return requested;
    },
    onStop(stop) {
      handler = stop;
      run();
    },
  };
}
