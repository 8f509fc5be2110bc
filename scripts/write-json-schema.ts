import { writeFileSync } from 'node:fs';
import { configJsonSchemaText } from '../src/config/json-schema.js';
import { builtInKinds } from '../src/sources/registry.js';

writeFileSync(new URL('../sync.config.schema.json', import.meta.url), configJsonSchemaText(builtInKinds));
process.stdout.write('wrote sync.config.schema.json\n');
