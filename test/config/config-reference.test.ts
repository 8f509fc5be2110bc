import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReferenceMarkdown } from '../../src/config/config-reference.js';
import { builtInKinds } from '../../src/sources/registry.js';

describe('docs/configuration.md', () => {
  it('is current: it equals what the config schema generates (npm run schema rewrites it)', () => {
    const committed = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    expect(committed).toBe(configReferenceMarkdown(builtInKinds));
  });

  it('lists every top-level key, every job kind and the keys an operator looks for', () => {
    const text = configReferenceMarkdown(builtInKinds);
    for (const key of ['store', 'server.tokens', 'defaults.firstSyncGrace', 'jobs[].id', 'concurrency', 'shutdownTimeout']) expect(text).toContain(`| \`${key}\` |`);
    for (const kind of builtInKinds) expect(text).toContain(`## \`jobs[]\` of \`"kind": "${kind.kind}"\``);
  });
});
