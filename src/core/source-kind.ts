import type { Logger } from 'pino';
import type { z } from 'zod';
import type { HttpClient } from '../http/client.js';
import type { GivenLimits } from './limits.js';
import type { StreamSource } from './source.js';
import type { TableClaim } from './table-claims.js';

/** The fields every job has, whatever its kind (validated by config/schema.ts). */
export interface JobCommon {
  readonly id: string;
  readonly kind: string;
}

export interface ExpandContext {
  readonly http: HttpClient;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** The limits the operator set for the job (defaults.limits, then its own); the kind's defaults fill the rest. */
  readonly limits?: GivenLimits;
}

/**
 * A kind of source (sdmx, rpde, ods...): the config fields of its jobs, the tables a job will
 * write, and how a job becomes streams. `options` is a zod object of the kind's own fields (not
 * id/kind/schedules...); the config loader merges it with the common job fields and rejects
 * unknown keys.
 */
export interface SourceKind<Options extends z.ZodObject = z.ZodObject> {
  readonly kind: string;
  readonly options: Options;
  /**
   * Its streams declare the records they publish (StreamSource.records), so its jobs may push them
   * to targets (the config's `push`).
   */
  readonly pushable?: boolean;
  /**
   * The tables the job's streams will write, from its options alone (no I/O, never throws): the
   * config loader refuses two jobs, of any kinds, whose claims meet. Tables named only after I/O
   * (feeds a dataset site lists, datasets a catalog query finds) are claimed as a family by the
   * start of their names, which the kind must then keep to.
   */
  tables(job: JobCommon, options: z.infer<Options>): readonly TableClaim[];
  /** May do I/O (e.g. RPDE discovery from a dataset site); must be deterministic for a given remote state. */
  expand(job: JobCommon, options: z.infer<Options>, ctx: ExpandContext): Promise<StreamSource[]>;
}

/** Keeps the options type when a kind is declared as a constant. */
export function defineSourceKind<Options extends z.ZodObject>(kind: SourceKind<Options>): SourceKind<Options> {
  return kind;
}
