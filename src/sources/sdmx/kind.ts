import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';
import { fromSync } from '../../core/from-sync.js';
import { defineSourceKind, type JobCommon } from '../../core/source-kind.js';
import { assertOwnTablesApart, type TableClaim } from '../../core/table-claims.js';
import { isValidIdentifier } from '../../core/identifiers.js';
import { dataflowRefSchema, parseDataflowRef } from './dataflow-ref.js';
import { derivePrefix } from './layout.js';
import { resolveLimits, type GivenLimits } from '../../core/limits.js';
import { SDMX_LIMITS, SdmxSource } from './sdmx-source.js';

const dataflowEntry = z.union([
  dataflowRefSchema,
  z.strictObject({
    ref: dataflowRefSchema,
    prefix: z
      .string()
      .refine((prefix) => isValidIdentifier(`${prefix}_dataset_attr`), {
        message: 'expected a table prefix: a letter, then letters, digits or _ (at most 50 characters)',
      })
      .optional()
      .describe('Table prefix: {prefix}_obs, {prefix}_attr_*, {prefix}_dataset_attr, {prefix}_meta and the view {prefix}. Default: the dataflow id, lower case.'),
    key: z
      .string()
      .regex(/^[A-Za-z0-9_@$+*.-]*$/, 'expected a data key such as "A.FR+DE." (v1) or "A.FR+DE.*" (v2)')
      .optional()
      .describe('Only mirror this key (as the API writes it). Deletions are only complete for what the key covers.'),
  }),
]);

export const sdmxOptions = z.object({
  endpoint: z.url({ protocol: /^https?$/, message: 'expected an absolute http(s) URL' }).describe('The NSI web service `rest` root, e.g. "https://sdmx.oecd.org/public/rest".'),
  api: z.enum(['v1', 'v2']).default('v1').describe('Data query paths: v1 `/data/{A},{ID},{V}/all` or v2 `/v2/data/dataflow/{A}/{ID}/{V}/*`.'),
  dataflows: z.array(dataflowEntry).min(1).describe('Dataflows to mirror, "AGENCY:ID(VERSION)" or {ref, prefix?, key?}; each is its own stream.'),
  metadata: z.boolean().default(false).describe('Also mirror the referential metadata of each dataflow (a second stream, `...:meta`).'),
  overlap: z
    .string()
    .default('5m')
    .refine((text) => parseDuration(text) !== undefined, { message: 'expected a duration such as 30s, 5m, 1h or 7d' })
    .describe('Safety overlap subtracted from the watermark; re-reading it is harmless.'),
  structureFormat: z
    .enum(['json', 'xml', 'auto'])
    .default('auto')
    .describe('Structure format: SDMX-JSON, SDMX-ML 2.1, or JSON falling back to XML on 406.'),
});

export type SdmxOptions = z.infer<typeof sdmxOptions>;

type DataflowEntry = SdmxOptions['dataflows'][number];

function entryParts(entry: DataflowEntry): { ref: string; prefix: string | undefined; key: string | undefined } {
  return typeof entry === 'string' ? { ref: entry, prefix: undefined, key: undefined } : { ref: entry.ref, prefix: entry.prefix, key: entry.key };
}

function tablePrefixOf(entry: DataflowEntry): string {
  const { ref, prefix } = entryParts(entry);
  return prefix ?? derivePrefix(parseDataflowRef(ref).id);
}

/**
 * A dataflow's tables: the view `{p}`, `{p}_obs`, `{p}_dataset_attr`, `{p}_meta` (with metadata), and its
 * attribute tables `{p}_attr_*`, named after the data structure (hence a family).
 */
function sdmxTables(options: SdmxOptions): TableClaim[] {
  return options.dataflows.flatMap((entry, index) => {
    const prefix = tablePrefixOf(entry);
    const path = ['dataflows', index];
    const by = `dataflow ${entryParts(entry).ref}`;
    return [
      ...[prefix, `${prefix}_obs`, `${prefix}_dataset_attr`, ...(options.metadata ? [`${prefix}_meta`] : [])].map((name) => ({ name, path, by })),
      { name: `${prefix}_attr_`, family: true, path, by },
    ];
  });
}

/** The `sdmx` job kind: one data stream per dataflow, plus a metadata stream each with `metadata: true`. */
export const sdmxKind = defineSourceKind({
  kind: 'sdmx',
  pushable: true,
  options: sdmxOptions,
  tables: (_job, options) => sdmxTables(options),
  expand(job, options, ctx) {
    return fromSync(() => expandSdmxJob(job, options, ctx.limits));
  },
});

function expandSdmxJob(job: JobCommon, options: SdmxOptions, limits: GivenLimits | undefined): SdmxSource[] {
    const overlapMs = parseDuration(options.overlap) as number;
    // Checked with the config too, across jobs; expand may be called without it (demo, tests).
    assertOwnTablesApart({ id: job.id, claims: sdmxTables(options) });
    const streams: SdmxSource[] = [];
    for (const entry of options.dataflows) {
      const { ref, key } = entryParts(entry);
      const dataflow = parseDataflowRef(ref);
      const tablePrefix = tablePrefixOf(entry);
      const base = `sdmx:${job.id}:${dataflow.agency}:${dataflow.id}(${dataflow.version})`;
      const common = {
        jobId: job.id,
        endpoint: options.endpoint,
        api: options.api,
        dataflow,
        prefix: tablePrefix,
        key,
        overlapMs,
        structureFormat: options.structureFormat,
        limits: resolveLimits(SDMX_LIMITS, limits),
      };
      streams.push(new SdmxSource({ ...common, id: `${base}:data`, mode: 'data' }));
      if (options.metadata) streams.push(new SdmxSource({ ...common, id: `${base}:meta`, mode: 'metadata' }));
    }
    return streams;
}
