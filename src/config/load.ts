import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import type { SourceKind } from '../core/source-kind.js';
import { formatPath } from './format-path.js';
import { buildConfigSchema, type DaemonConfig } from './schema.js';
import { withPlaceholders, type Substitution } from './substitutions.js';

/** A config that cannot be used; `problems` holds one line per problem, each starting with its JSON path. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  readonly config: DaemonConfig;
  /** Values that came from `${ENV_VAR}` substitution: treated as secrets and redacted from logs and /status. */
  readonly secrets: readonly string[];
}

export async function loadConfigFile(
  file: string,
  kinds: readonly SourceKind[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read the file: ${(error as Error).message}`]);
  }
  return parseConfig(text, file, kinds, env);
}

export function parseConfig(
  text: string,
  file: string,
  kinds: readonly SourceKind[],
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  const problems: string[] = [];
  const substitutions: Substitution[] = [];
  const substituted = substituteEnv(raw, [], env, problems, substitutions);
  const secrets = substitutions.flatMap((substitution) => substitution.secrets.map((secret) => secret.value)).filter((value) => value.length > 0);
  const result = buildConfigSchema(kinds).safeParse(substituted);
  // A message may quote the value it refused, which came from the environment: it shows the placeholder.
  if (!result.success) problems.push(...result.error.issues.map((issue) => formatIssue(issue, substitutions)));
  // A kind's refinements run twice (inside the job, and again with the kind's own schema for its
  // cross-field rules; see buildConfigSchema), so a bad field can be reported twice: once per problem.
  if (problems.length > 0 || !result.success) throw new ConfigError(file, [...new Set(problems)]);
  return { config: result.data as unknown as DaemonConfig, secrets };
}

/**
 * Replaces `${NAME}` inside string values (never keys) with the environment variable. Done on the
 * parsed document, not the text, so a value containing quotes cannot break the JSON around it.
 * `$${NAME}` keeps a literal `${NAME}`.
 */
function substituteEnv(
  value: unknown,
  path: (string | number)[],
  env: NodeJS.ProcessEnv,
  problems: string[],
  substitutions: Substitution[],
): unknown {
  if (typeof value === 'string') {
    const secrets: { name: string; value: string }[] = [];
    const replaced = value.replace(/(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, escape: string, name: string) => {
      if (escape) return whole.slice(1);
      const found = env[name];
      if (found === undefined) {
        problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
        return whole;
      }
      secrets.push({ name, value: found });
      return found;
    });
    if (secrets.length > 0) substitutions.push({ path, raw: value, value: replaced, secrets });
    return replaced;
  }
  if (Array.isArray(value)) return value.map((item, index) => substituteEnv(item, [...path, index], env, problems, substitutions));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteEnv(item, [...path, key], env, problems, substitutions)]),
    );
  }
  return value;
}

function formatIssue(issue: z.core.$ZodIssue, substitutions: readonly Substitution[]): string {
  const where = formatPath(issue.path);
  return `${where}: ${withPlaceholders(issueMessage(issue), issue.path, substitutions)}`;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => JSON.stringify(key)).join(', ');
    return `unknown key${issue.keys.length === 1 ? '' : 's'} ${keys} (a typo?)`;
  }
  // A discriminated union (a job's `kind`, the store's `engine`) names its own key and values: the
  // message must name those, not the job kinds, wherever the union is.
  if (issue.code === 'invalid_union' && 'options' in issue && Array.isArray(issue.options)) {
    const values = issue.options.map((value) => String(value)).join(', ');
    return `expected one of ${values}`;
  }
  return issue.message;
}
