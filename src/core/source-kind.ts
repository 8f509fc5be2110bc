import type { Logger } from 'pino';
import type { z } from 'zod';
import type { HttpClient } from '../http/client.js';
import type { StreamSource } from './source.js';

/** The fields every job has, whatever its kind (validated by config/schema.ts). */
export interface JobCommon {
  readonly id: string;
  readonly kind: string;
}

export interface ExpandContext {
  readonly http: HttpClient;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

/**
 * A kind of source (sdmx, rpde, ods...): the config fields of its jobs and how a job becomes
 * streams. `options` is a zod object of the kind's own fields (not id/kind/schedules...); the config
 * loader merges it with the common job fields and rejects unknown keys.
 */
export interface SourceKind<Options extends z.ZodObject = z.ZodObject> {
  readonly kind: string;
  readonly options: Options;
  /** May do I/O (e.g. RPDE discovery from a dataset site); must be deterministic for a given remote state. */
  expand(job: JobCommon, options: z.infer<Options>, ctx: ExpandContext): Promise<StreamSource[]>;
  /**
   * Rules that span the config's jobs of this kind, checked with the config (e.g. two jobs that
   * would write the same tables into the one store). Gets every job of the kind, enabled or not,
   * with its parsed options; returns problems by position in that list, at a path inside the job.
   */
  checkJobs?(jobs: readonly KindJob<z.infer<Options>>[]): readonly JobProblem[];
}

export interface KindJob<Options> {
  readonly id: string;
  readonly options: Options;
}

export interface JobProblem {
  /** Index into the list given to checkJobs. */
  readonly job: number;
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** Keeps the options type when a kind is declared as a constant. */
export function defineSourceKind<Options extends z.ZodObject>(kind: SourceKind<Options>): SourceKind<Options> {
  return kind;
}
