import { z } from 'zod';
import { parseDuration } from '../core/duration.js';

/**
 * A push target in the config: an Opendatasoft realtime dataset a job's records are pushed to
 * (README, "Push to Opendatasoft"). The push URL carries its key; written as `${ENV}` it is a secret,
 * redacted from every log line, error and endpoint.
 */

const PUSH_PATH = /^\/api\/push\/1\.0\/([^/]+)\/([^/]+(?:\/[^/]+)?)\/push\/$/;

/** The dataset id and resource id of a push URL, or undefined when it is not one. */
export function pushUrlParts(url: string): { origin: string; dataset: string; resource: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const match = PUSH_PATH.exec(parsed.pathname);
  if (!match || !parsed.searchParams.get('pushkey')) return undefined;
  return { origin: parsed.origin, dataset: decodeURIComponent(match[1] as string), resource: decodeURIComponent(match[2] as string) };
}

const duration = z
  .string()
  .refine((text) => parseDuration(text) !== undefined, { message: 'expected a duration such as 30s, 5m, 1h or 7d' });

export const pushTargetSchema = z.strictObject({
  url: z
    .string()
    .refine((url) => /^https?:\/\//.test(url) && pushUrlParts(url) !== undefined, {
      message: 'expected the push URL of a realtime dataset: https://<portal>/api/push/1.0/<dataset>/<resource>/push/?pushkey=${ODS_PUSHKEY}',
    })
    .describe(
      'The push URL as the ODS back office shows it, with its key from the environment: "https://<portal>/api/push/1.0/<dataset>/<resource>/push/?pushkey=${ODS_PUSHKEY}".',
    ),
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'expected letters, digits, ., - and _ (at most 63)')
    .optional()
    .describe('Names the target in status and metrics; default: the dataset id of the URL.'),
  uniqueId: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      'The fields marked "Unique ID" in the ODS dataset, when it has any: they must be the record key (SDMX: the dimensions; RPDE: id). Without them a changed record is deleted by its old values before the new one is pushed.',
    ),
  automation: z
    .strictObject({
      apiKey: z.string().min(1).describe('An Automation API key allowed to unpublish and publish the dataset, as "${ODS_APIKEY}".'),
      portal: z
        .url({ protocol: /^https?$/, message: 'expected an absolute http(s) URL' })
        .optional()
        .describe('The portal the Automation API is on; default: the push URL\'s origin.'),
    })
    .optional()
    .describe('Lets `reset` empty the dataset (unpublish, wait until idle, publish) before pushing everything again; without it `reset` of a pushed stream is refused.'),
  alertAfter: duration.optional().describe('Undelivered changes older than this turn /readyz red. Default: the job\'s alertAfter.'),
});

export type PushTargetConfig = z.infer<typeof pushTargetSchema>;

export const pushTargetsSchema = z
  .array(pushTargetSchema)
  .min(1)
  .superRefine((targets, ctx) => {
    const seen = new Map<string, number>();
    targets.forEach((target, index) => {
      const name = targetName(target);
      const first = seen.get(name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `two push targets are named ${name} (also push[${first}]); give one a name` });
      else seen.set(name, index);
    });
  })
  .describe('Opendatasoft realtime datasets to push the job\'s records to (README, "Push to Opendatasoft").');

/** The target's name: its own, or the dataset id of its URL. */
export function targetName(target: Pick<PushTargetConfig, 'url' | 'name'>): string {
  return target.name ?? pushUrlParts(target.url)?.dataset ?? 'push';
}

/** A target's id in the store: unique per stream and name. */
export function targetId(streamId: string, target: Pick<PushTargetConfig, 'url' | 'name'>): string {
  return `${streamId}>${targetName(target)}`;
}
