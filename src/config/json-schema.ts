import { z } from 'zod';
import type { SourceKind } from '../core/source-kind.js';
import { buildConfigSchema } from './schema.js';

/**
 * The JSON Schema of sync.config.json for editors (referenced by its `$schema`). Generated from the
 * same zod schema the daemon validates with, so the two cannot drift; a test checks the committed
 * file is current (`npm run schema` rewrites it).
 */
export function configJsonSchema(kinds: readonly SourceKind[]): Record<string, unknown> {
  const schema = z.toJSONSchema(buildConfigSchema(kinds), { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://github.com/dataspace-sync/dataspace-sync/sync.config.schema.json',
    title: 'dataspace-sync configuration',
  };
}

export function configJsonSchemaText(kinds: readonly SourceKind[]): string {
  return `${JSON.stringify(configJsonSchema(kinds), null, 2)}\n`;
}
