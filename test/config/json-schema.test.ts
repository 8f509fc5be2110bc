import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchemaText } from '../../src/config/json-schema.js';
import { builtInKinds } from '../../src/sources/registry.js';

describe('published JSON Schema', () => {
  it('is current: sync.config.schema.json equals what the validator generates (npm run schema)', () => {
    const committed = readFileSync(new URL('../../sync.config.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(configJsonSchemaText(builtInKinds));
  });

  it('is referenced by the example config', () => {
    const config = JSON.parse(readFileSync(new URL('../../sync.config.json', import.meta.url), 'utf8')) as { $schema?: string };
    expect(config.$schema).toBe('./sync.config.schema.json');
  });
});
