import { z } from 'zod';
import { DEFAULT_LIMITS, resolveLimits } from '../../core/limits.js';
import { fromSync } from '../../core/from-sync.js';
import { defineSourceKind, type JobCommon } from '../../core/source-kind.js';
import type { TableClaim } from '../../core/table-claims.js';
import { OdsCatalogSource } from './catalog-source.js';
import { defaultPrefix, portalBase, portalOptions, prefixOption } from './ods-options.js';

const LONGEST_SUFFIX = '_resources';

export const odsCatalogOptions = z.object({
  ...portalOptions,
  prefix: prefixOption(LONGEST_SUFFIX).optional().describe('Table prefix: {prefix}_datasets and {prefix}_resources. Default: the job id.'),
  where: z.string().min(1).optional().describe('An ODSQL filter on the catalog, e.g. "publisher = \\"City of Example\\"".'),
  refine: z
    .array(z.string().regex(/^[^:]+:.+$/, 'expected FACET:VALUE, e.g. "theme:Environment"'))
    .default([])
    .describe('Facet refinements (FACET:VALUE), all of which a dataset must match.'),
  inspire: z.boolean().default(false).describe('Also mirror datasets that carry an INSPIRE record (geo catalogs usually harvest those).'),
  includeEmpty: z.boolean().default(false).describe('Also mirror datasets with no records, attachments or alternative exports.'),
  goneAfter: z.number().int().min(1).max(1000).default(3).describe('A dataset absent from this many consecutive complete listings is marked gone.'),
});

export type OdsCatalogOptions = z.infer<typeof odsCatalogOptions>;

function prefixOf(job: JobCommon, options: OdsCatalogOptions): string {
  return options.prefix ?? defaultPrefix(job.id, LONGEST_SUFFIX);
}

/** The `ods-catalog` job kind: one stream, `ods:{job}:catalog`, mirroring a portal's catalog. */
export const odsCatalogKind = defineSourceKind({
  kind: 'ods-catalog',
  options: odsCatalogOptions,
  tables(job, options): TableClaim[] {
    const prefix = prefixOf(job, options);
    const by = `the catalog of ${options.portal}`;
    const path = options.prefix === undefined ? [] : ['prefix'];
    return [`${prefix}_datasets`, `${prefix}_resources`].map((name) => ({ name, path, by }));
  },
  expand(job, options, ctx) {
    return fromSync(() => [
      new OdsCatalogSource({
        id: `ods:${job.id}:catalog`,
        jobId: job.id,
        portal: portalBase(options.portal),
        apiKey: options.apiKey,
        prefix: prefixOf(job, options),
        where: options.where,
        refine: options.refine,
        includeInspire: options.inspire,
        includeEmpty: options.includeEmpty,
        goneAfter: options.goneAfter,
        limits: resolveLimits(DEFAULT_LIMITS, ctx.limits),
      }),
    ]);
  },
});
