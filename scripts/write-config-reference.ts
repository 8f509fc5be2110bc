import { mkdirSync, writeFileSync } from 'node:fs';
import { configReferenceMarkdown } from '../src/config/config-reference.js';
import { builtInKinds } from '../src/sources/registry.js';

mkdirSync(new URL('../docs/', import.meta.url), { recursive: true });
writeFileSync(new URL('../docs/configuration.md', import.meta.url), configReferenceMarkdown(builtInKinds));
process.stdout.write('wrote docs/configuration.md\n');
