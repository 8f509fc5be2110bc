import cronParser from 'cron-parser';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { parseSize, type GivenLimits } from '../core/limits.js';
import type { SourceKind } from '../core/source-kind.js';
import { describeClash, findTableClashes, type ClaimingJob } from '../core/table-claims.js';
import { parseCidr } from '../http/cidr.js';
import { pushTargetsSchema, type PushTargetConfig } from '../push/push-config.js';
import { formatPath } from './format-path.js';

/** A duration such as `30s`, `5m`, `1h30m`, `7d`; validated here, parsed where used. */
export const duration = z
  .string()
  .refine((text) => parseDuration(text) !== undefined, { message: 'expected a duration such as 30s, 5m, 1h or 7d' })
  .describe('A duration: a number and a unit (ms, s, m, h, d), e.g. "30s", "5m", "1h30m", "7d".');

const size = z
  .union([
    z.number().int().positive(),
    z.string().refine((text) => parseSize(text) !== undefined, { message: 'expected a size such as 1048576, "512KiB", "64MiB" or "2GB"' }),
  ])
  .describe('Bytes: a number, or a number and a unit: "512KiB", "64MiB", "2GiB" (binary) or "500KB", "2GB" (decimal).');
const count = z.number().int().positive();

/** docs/limits.md: what each bounds, which kinds use it, and the defaults. */
export const limitsSchema = z
  .strictObject({
    responseBytes: size.optional().describe('Bytes of one response as received, before decompression. Every kind.'),
    decodedBytes: size.optional().describe('Bytes of one response after decompression (stops gzip bombs). Every kind.'),
    documentBytes: size
      .optional()
      .describe('Bytes of an answer read whole before it is parsed: an RPDE page, an SDMX structure, an ODS API answer, a discovery page.'),
    lineBytes: size.optional().describe('Bytes of one line: an SDMX-CSV record, an ODS JSON Lines record or catalog-export dataset.'),
    cellBytes: size.optional().describe('Bytes of one SDMX-CSV cell.'),
    rowsPerResponse: count.optional().describe('SDMX-CSV rows in one response.'),
    itemsPerPage: count.optional().describe('Items in one RPDE page.'),
    recordsPerResponse: count.optional().describe('Records in one ODS export (datasets in the catalog export).'),
  })
  .describe('Bounds on one remote answer; exceeding one ends the run with an error naming it, nothing applied (docs/limits.md). Defaults depend on the kind.');
export type LimitsConfig = z.infer<typeof limitsSchema>;

/** The limits as numbers of bytes or items. */
export function givenLimits(config: LimitsConfig | undefined): GivenLimits {
  const given: Record<string, number> = {};
  for (const [key, value] of Object.entries(config ?? {})) {
    if (value !== undefined) given[key] = typeof value === 'number' ? value : (parseSize(value) as number);
  }
  return given;
}

const cronSchedule = z
  .strictObject({
    cron: z.string().describe('A cron expression (5 or 6 fields), e.g. "0 */6 * * *".'),
    tz: z.string().optional().describe('IANA time zone the expression is read in, e.g. "Europe/Paris"; default UTC.'),
  })
  .superRefine((value, ctx) => {
    try {
      cronParser.parseExpression(value.cron, value.tz ? { tz: value.tz } : {});
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['cron'], message: `not a valid cron expression: ${(error as Error).message}` });
    }
    if (value.tz !== undefined && !IANAZone.isValidZone(value.tz)) {
      ctx.addIssue({ code: 'custom', path: ['tz'], message: `unknown time zone ${JSON.stringify(value.tz)}` });
    }
  });

const everySchedule = z.strictObject({
  every: duration.describe('Run at this interval, measured from the end of the previous run.'),
});

const SCHEDULE_SHAPES = '{"every": ...} or {"cron": ..., "tz"?: ...}';
const SCHEDULE_KEYS = ['every', 'cron', 'tz'];

/**
 * When neither variant fits, zod only says "Invalid input": it cannot tell which one was meant. The
 * keys that are present can, so a typo is named like any other unknown key.
 */
function scheduleProblem(input: unknown): string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return `expected ${SCHEDULE_SHAPES}`;
  const unknown = Object.keys(input).filter((key) => !SCHEDULE_KEYS.includes(key));
  if (unknown.length > 0) {
    const keys = unknown.map((key) => JSON.stringify(key)).join(', ');
    return `unknown key${unknown.length === 1 ? '' : 's'} ${keys}; expected ${SCHEDULE_SHAPES}`;
  }
  if ('every' in input && 'cron' in input) return `"every" and "cron" cannot be combined; expected ${SCHEDULE_SHAPES}`;
  const present = ['every', 'cron'].find((key) => key in input);
  if (present !== undefined) return `"${present}" must be a string; expected ${SCHEDULE_SHAPES}`;
  return `expected ${SCHEDULE_SHAPES}`;
}

export const scheduleSchema = z.union([cronSchedule, everySchedule], { error: (issue) => scheduleProblem(issue.input) });
export type ScheduleConfig = z.infer<typeof scheduleSchema>;

const sqliteStore = z.strictObject({
  engine: z.literal('sqlite'),
  path: z.string().default('./data/sync.db').describe('SQLite database file; created with its folder if missing.'),
});
const postgresStore = z.strictObject({
  engine: z.literal('postgres'),
  url: z.string().describe('Connection URL, e.g. "postgres://user:${PGPASSWORD}@db:5432/mirror".'),
  schema: z.string().optional().describe('Schema for the mirror and sync_state; default "public".'),
});
const mssqlStore = z
  .strictObject({
    engine: z.literal('mssql'),
    url: z
      .string()
      .optional()
      .describe('Connection URL, e.g. "mssql://sync:${MSSQL_PASSWORD}@db:1433/mirror?encrypt=true"; the fields below override its parts.'),
    server: z.string().optional().describe('Host name of the server (instead of a url).'),
    port: z.number().int().min(1).max(65535).optional().describe('TCP port; default 1433.'),
    database: z.string().optional().describe('Database holding the schema.'),
    user: z.string().optional().describe('SQL Server login.'),
    password: z.string().optional().describe('Its password; write it as "${ENV_VAR}" so it stays out of the file.'),
    encrypt: z.boolean().optional().describe('TLS to the server; default true.'),
    trustServerCertificate: z.boolean().optional().describe('Accept a certificate no authority signed (a development server); default false.'),
    schema: z.string().optional().describe('Schema for the mirror and sync_state (created if missing); default "dbo".'),
  })
  .refine((store) => store.url !== undefined || store.server !== undefined, { message: 'give a url or a server' });
export const storeSchema = z.discriminatedUnion('engine', [sqliteStore, postgresStore, mssqlStore]);
export type StoreConfig = z.infer<typeof storeSchema>;

const serverSchema = z.strictObject({
  host: z.string().default('0.0.0.0').describe('Address of the health/status/metrics endpoints.'),
  port: z.number().int().min(0).max(65535).default(8080).describe('Port of the endpoints; 0 picks a free one.'),
  tokens: z
    .array(z.string().min(16, 'a token must be at least 16 characters (e.g. `openssl rand -hex 32`)'))
    .default([])
    .describe(
      'Bearer tokens for /, /status and /metrics (write them as "${ENV_VAR}" so they stay out of the file); /healthz and /readyz stay open. None: everything is open.',
    ),
});

const clientSchema = z.strictObject({
  userAgent: z.string().optional().describe('User-Agent of every request; default dataspace-sync/<version>.'),
  connectTimeout: duration.default('10s').describe('Longest wait for a connection to a remote.'),
  headersTimeout: duration.default('60s').describe('Longest wait for the response headers after the request was sent.'),
  bodyTimeout: duration.default('120s').describe('Longest pause allowed between two chunks of a body.'),
  retries: z.number().int().min(0).max(10).default(3).describe('Retries of idempotent requests on network errors, 5xx and 429.'),
  maxRetryDelay: duration.default('60s').describe('Longest wait before one retry; a longer Retry-After ends the run instead.'),
  allowedNetworks: z
    .array(z.string().refine((text) => parseCidr(text) !== undefined, { message: 'expected a CIDR block such as 10.1.0.0/16 or fd00::/8' }))
    .default([])
    .describe(
      'Networks (CIDR) that hosts the config does not name may still reach: a feed listed by a catalog, a next link, a redirect. Loopback, private, link-local and other non-public addresses are refused for them otherwise; the hosts of URLs written in the jobs are always reachable. See docs/security.md.',
    ),
});

const defaultsSchema = z.strictObject({
  schedules: z.array(scheduleSchema).min(1).default([{ every: '15m' }]).describe('When jobs without schedules of their own run.'),
  alertAfter: duration.default('1d').describe('A stream with no success for this long turns /readyz red.'),
  firstSyncGrace: duration
    .default('15m')
    .describe('A stream that has never synced successfully turns /readyz red once it has failed and the daemon has run this long.'),
  runTimeout: duration
    .default('6h')
    .describe('A run still going after this long (daemon, sync or demo) is aborted, rolled back and recorded as a failure, then backed off.'),
  backoff: z
    .strictObject({
      initial: duration.default('1m').describe('Wait after the first failure; it doubles with each failure in a row.'),
      max: duration.default('6h').describe('Longest wait between two attempts.'),
    })
    .prefault({})
    .describe('Exponential backoff after failures, with full jitter.'),
  jitter: duration.default('10s').describe('Random delay added to each scheduled run so instances do not stampede.'),
  limits: limitsSchema.optional(),
});

const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').describe('Lowest level logged (JSON lines on stdout).'),
});

const jobCommon = {
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected lowercase letters, digits, - and _ (at most 63)')
    .describe('Stable job id; part of every stream id, so renaming it starts the streams afresh.'),
  enabled: z.boolean().default(true).describe('A disabled job is not synced; its tables and state stay in the store.'),
  schedules: z.array(scheduleSchema).min(1).optional().describe('When the job runs. Default: defaults.schedules (RPDE jobs: every pollInterval).'),
  alertAfter: duration.optional().describe('Default: defaults.alertAfter.'),
  firstSyncGrace: duration.optional().describe('Default: defaults.firstSyncGrace.'),
  runTimeout: duration.optional().describe('Default: defaults.runTimeout.'),
  limits: limitsSchema.optional().describe('Bounds on one remote answer; each key overrides defaults.limits (docs/limits.md).'),
};

export interface CommonJobConfig {
  readonly id: string;
  readonly kind: string;
  readonly enabled: boolean;
  readonly schedules?: ScheduleConfig[];
  readonly alertAfter?: string;
  readonly firstSyncGrace?: string;
  readonly runTimeout?: string;
  readonly limits?: LimitsConfig;
  readonly push?: PushTargetConfig[];
}

/** The whole config schema for the given source kinds (the daemon passes all built-in ones). */
export function buildConfigSchema(kinds: readonly SourceKind[]) {
  const jobVariants = kinds.map((kind) =>
    z.strictObject({ ...jobCommon, kind: z.literal(kind.kind), ...kind.options.shape, ...(kind.pushable ? { push: pushTargetsSchema.optional() } : {}) }),
  );
  const job =
    jobVariants.length === 0
      ? z.never()
      : z.discriminatedUnion('kind', jobVariants as unknown as [z.ZodObject, ...z.ZodObject[]]);
  return z
    .strictObject({
      $schema: z.string().optional(),
      store: storeSchema.default({ engine: 'sqlite', path: './data/sync.db' }).describe('Where the mirror and sync_state live: SQLite (embedded), PostgreSQL or SQL Server.'),
      server: serverSchema.prefault({}).describe('The endpoints: the status page, /healthz, /readyz, /status, /metrics.'),
      client: clientSchema.prefault({}).describe('Outgoing HTTP to every remote.'),
      defaults: defaultsSchema.prefault({}).describe('What jobs get unless they say otherwise.'),
      log: logSchema.prefault({}).describe('Logging: pino JSON lines on stdout, secrets redacted.'),
      concurrency: z.number().int().min(1).max(64).default(4).describe('Streams synced at the same time, at most.'),
      shutdownTimeout: duration.default('30s').describe('How long SIGTERM waits for runs to roll back before exiting.'),
      jobs: z.array(job).describe('What to mirror: one entry per job; a job may expand into many streams.'),
    })
    .superRefine((config, ctx) => {
      // A kind's own cross-field rules (refinements) do not survive merging its fields into the
      // job object, so they are checked here against the kind's schema as written.
      config.jobs.forEach((entry, index) => {
        const kind = kinds.find((candidate) => candidate.kind === (entry as { kind: string }).kind);
        const options = Object.fromEntries(Object.entries(entry).filter(([key]) => key in (kind?.options.shape ?? {})));
        const checked = kind?.options.safeParse(options);
        for (const issue of checked?.success === false ? checked.error.issues : []) {
          if (issue.code === 'custom') ctx.addIssue({ code: 'custom', path: ['jobs', index, ...issue.path], message: issue.message });
        }
      });
      // Tables of every job, enabled or not, of any kind; jobs whose own fields are invalid already
      // have their problems reported and claim nothing.
      const claiming: { index: number; job: ClaimingJob }[] = [];
      config.jobs.forEach((entry, index) => {
        const job = entry as { id: string; kind: string };
        const kind = kinds.find((candidate) => candidate.kind === job.kind);
        const parsed = kind?.options.safeParse(Object.fromEntries(Object.entries(entry).filter(([key]) => key in kind.options.shape)));
        if (kind === undefined || parsed?.success !== true) return;
        claiming.push({ index, job: { id: job.id, claims: kind.tables({ id: job.id, kind: job.kind }, parsed.data) } });
      });
      const jobs = claiming.map(({ job }) => job);
      const locate = (job: number, path: readonly PropertyKey[]) => formatPath(['jobs', claiming[job]?.index ?? -1, ...path]);
      for (const clash of findTableClashes(jobs)) {
        ctx.addIssue({
          code: 'custom',
          path: ['jobs', claiming[clash.job]?.index ?? -1, ...clash.claim.path],
          message: describeClash(clash, jobs, locate),
        });
      }
      const seen = new Map<string, number>();
      config.jobs.forEach((entry, index) => {
        const id = (entry as { id: string }).id;
        const first = seen.get(id);
        if (first !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['jobs', index, 'id'], message: `duplicate job id ${JSON.stringify(id)} (also jobs[${first}])` });
        } else {
          seen.set(id, index);
        }
      });
    });
}

export type ConfigSchema = ReturnType<typeof buildConfigSchema>;

export interface DaemonConfig {
  readonly store: StoreConfig;
  readonly server: z.infer<typeof serverSchema>;
  readonly client: z.infer<typeof clientSchema>;
  readonly defaults: z.infer<typeof defaultsSchema>;
  readonly log: z.infer<typeof logSchema>;
  readonly concurrency: number;
  readonly shutdownTimeout: string;
  readonly jobs: readonly (CommonJobConfig & Record<string, unknown>)[];
}
