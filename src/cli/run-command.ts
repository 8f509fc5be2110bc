import { Daemon } from '../daemon/daemon.js';
import { trapShutdownSignals } from '../daemon/signals.js';
import { ms } from '../daemon/streams.js';
import type { CliContext } from './context.js';

/**
 * `run`: the daemon until SIGTERM/SIGINT. A signal during start-up makes the start give up at its
 * next step, releasing what it opened; after start-up it stops scheduling, rolls back in-flight
 * runs and exits within `shutdownTimeout` (a hard deadline follows, in case something ignores the
 * abort).
 */
export async function runCommand(load: () => Promise<CliContext>): Promise<void> {
  const signals = trapShutdownSignals();
  const context = await load();
  if (signals.requested) return;
  const store = await context.openStore();
  if (signals.requested) return store.close();
  const { config } = context.loaded;
  const daemon = new Daemon({ config, kinds: context.kinds, http: await context.http(), log: context.log, scrub: context.scrub, store });
  let stopping = false;
  signals.onStop((signal) => {
    stopping = true;
    context.log.info({ signal }, 'stopping');
    setTimeout(() => process.exit(1), ms(config.shutdownTimeout) + 5_000).unref();
    void daemon.stop().then((clean) => {
      process.exitCode = clean ? 0 : 1;
    });
  });
  try {
    await daemon.start();
  } catch (error) {
    // A stop during start-up makes start give up: that is the requested outcome, not an error.
    if (stopping) return;
    // Releases the store (and SQLite's instance lock) so the next start need not wait for it to go stale.
    await daemon.stop().catch(() => undefined);
    throw error;
  }
}
