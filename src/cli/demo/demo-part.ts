import type { Store } from '../../store/store.js';
import type { DemoPushTarget } from './push-target.js';

/**
 * One source of the demo: a local simulator, the jobs that mirror it, changes to make at it while
 * the daemon runs, and a comparison of the mirror with it. The demo is the list of its parts
 * (demo-parts.ts): a new kind of source joins it by adding one.
 */
export interface DemoPart {
  /** Lines saying what runs where, e.g. `a .Stat-like data space at http://...`. */
  readonly describe: readonly string[];
  /** Job entries for the config (each with its `id` and `kind`). */
  readonly jobs: readonly Record<string, unknown>[];
  /** Where its job pushes its records, when it does. */
  readonly push?: DemoPushTarget;
  /** Changes the source a little (the `round`th time); says what it did, one line per change. */
  change(round: number): string[];
  /** How the mirror differs from the source, one line per difference; empty when in step. */
  compare(store: Store): Promise<string[]>;
  /** One line per mirrored table: what it holds now. */
  summary(store: Store): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Names that let several parts of one kind share a store (the scale-out tests mirror many):
 * the job's id and the prefix of its tables. The demo runs one of each, under its defaults.
 */
export interface DemoPartOptions {
  readonly jobId?: string;
  readonly prefix?: string;
  /**
   * The demo's push key: a part that can push its records to Opendatasoft does so when given one,
   * its receiver accepting this key and its job naming it as `${PUSH_KEY_VARIABLE}`, a secret.
   */
  readonly pushKey?: string;
}

/**
 * The placeholder a part's push URL names its key by: the config holds `${DSS_DEMO_PUSHKEY}`, never
 * the key, so the key is a secret like any `${ENV}` value and is redacted from the log and the status page.
 */
export const PUSH_KEY_VARIABLE = 'DSS_DEMO_PUSHKEY';

/** Starts a part's simulator; the part is ready to be mirrored when it resolves. */
export type DemoPartFactory = (options?: DemoPartOptions) => Promise<DemoPart>;
