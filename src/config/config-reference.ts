import type { SourceKind } from '../core/source-kind.js';
import { configJsonSchema } from './json-schema.js';

/**
 * docs/configuration.md, generated from the JSON Schema that is itself generated from the zod
 * schema the daemon validates with: the reference cannot describe a key the daemon does not
 * accept, or miss one it does. `npm run schema` rewrites it; a test fails when it is stale.
 */
export function configReferenceMarkdown(kinds: readonly SourceKind[]): string {
  const schema = configJsonSchema(kinds) as JsonSchema;
  const top = schema.properties ?? {};
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from the config schema by `npm run schema`: edit the descriptions in src/config/schema.ts',
    '     and src/sources/*/kind.ts, not this file. -->',
    '',
    'Every key of `sync.config.json`, with its type, default and meaning. Unknown keys are errors, so a typo never',
    'goes unnoticed (`dataspace-sync check-config` lists every problem with its path). Durations are written `250ms`,',
    '`30s`, `5m`, `1h30m`, `7d`. `${NAME}` in a string value is replaced by the environment variable `NAME` and',
    'treated as a secret (never logged or shown); `$${NAME}` keeps the text `${NAME}`. Editors complete and check the',
    'file through its JSON Schema, `sync.config.schema.json`.',
    '',
    '## Top level',
    '',
    ...table(Object.entries(top).filter(([key]) => key !== '$schema'), '', schema.required, false),
  ];
  for (const [key, property] of Object.entries(top)) {
    if (key === 'jobs' || key === '$schema') continue;
    if (property.oneOf) {
      for (const variant of property.oneOf) {
        const discriminator = Object.entries(variant.properties ?? {}).find(([, value]) => value.const !== undefined);
        const label = discriminator ? ` with \`"${discriminator[0]}": ${JSON.stringify(discriminator[1].const)}\`` : '';
        out.push('', `## \`${key}\`${label}`, '', ...table(Object.entries(variant.properties ?? {}), `${key}.`, variant.required));
      }
    } else if (property.properties) {
      out.push('', `## \`${key}\``, '', ...table(Object.entries(property.properties), `${key}.`, property.required));
    }
  }
  const variants = (top['jobs']?.items?.oneOf ?? []).filter((variant) => variant.properties !== undefined);
  const common = variants.length > 0 ? Object.keys(variants[0]?.properties ?? {}).filter((key) => variants.every((v) => key in (v.properties ?? {})) && key !== 'kind') : [];
  out.push(
    '',
    '## `jobs[]`: what every job has',
    '',
    'A job is one entry of `jobs`; `kind` chooses its source, and the kind adds fields of its own (below).',
    '',
    ...table(
      Object.entries(variants[0]?.properties ?? {}).filter(([key]) => common.includes(key)),
      'jobs[].',
      variants[0]?.required,
    ),
  );
  for (const variant of variants) {
    const kind = variant.properties?.['kind']?.const;
    const own = Object.entries(variant.properties ?? {}).filter(([key]) => !common.includes(key) && key !== 'kind');
    out.push('', `## \`jobs[]\` of \`"kind": ${JSON.stringify(kind)}\``, '', ...table(own, 'jobs[].', variant.required));
  }
  return `${out.join('\n')}\n`;
}

interface JsonSchema {
  readonly type?: string;
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
  readonly default?: unknown;
  readonly description?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly minLength?: number;
  readonly format?: string;
}

/** One row per key, nested objects flattened into dotted keys after their parent. */
function table(entries: readonly [string, JsonSchema][], prefix: string, required: readonly string[] = [], nested = true): string[] {
  const rows = ['| key | type | default | meaning |', '|---|---|---|---|'];
  const add = (key: string, property: JsonSchema, needed: boolean) => {
    const fallback = property.default === undefined ? (needed ? '(required)' : '') : `\`${JSON.stringify(property.default)}\``;
    const type = nested || (!property.properties && !property.oneOf && property.items?.oneOf === undefined) ? typeText(property) : 'see below';
    rows.push(`| \`${key}\` | ${cell(type)} | ${cell(fallback)} | ${cell(property.description ?? '')} |`);
    if (nested && property.properties && !property.oneOf) {
      for (const [child, value] of Object.entries(property.properties)) add(`${key}.${child}`, value, property.required?.includes(child) ?? false);
    }
  };
  for (const [key, property] of entries) add(`${prefix}${key}`, property, required.includes(key));
  return rows;
}

function typeText(property: JsonSchema): string {
  if (property.const !== undefined) return JSON.stringify(property.const);
  if (property.enum) return property.enum.map((value) => JSON.stringify(value)).join(' or ');
  const variants = property.anyOf ?? property.oneOf;
  if (variants) return variants.map(typeText).join(' or ');
  switch (property.type) {
    case 'array':
      return `array of ${property.items ? typeText(property.items) : 'values'}${property.minItems ? ` (at least ${property.minItems})` : ''}`;
    case 'object':
      return property.properties ? `{${Object.keys(property.properties).join(', ')}}` : 'object';
    case 'integer':
      return property.minimum !== undefined && property.maximum !== undefined ? `integer ${property.minimum}-${property.maximum}` : 'integer';
    case 'string':
      return property.format === 'uri' ? 'URL' : property.minLength ? `string (at least ${property.minLength} characters)` : 'string';
    default:
      return property.type ?? 'any';
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
