/**
 * `npm run schema`: writes the files generated from the config schema, sync.config.schema.json
 * (for editors) and docs/configuration.md (the reference). `-- --check` writes nothing and exits 1
 * when either differs from what the schema generates now.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configReferenceMarkdown } from '../src/config/config-reference.js';
import { configJsonSchemaText } from '../src/config/json-schema.js';
import { builtInKinds } from '../src/sources/registry.js';

const generated: [string, string][] = [
  ['sync.config.schema.json', configJsonSchemaText(builtInKinds)],
  ['docs/configuration.md', configReferenceMarkdown(builtInKinds)],
];
const check = process.argv.includes('--check');
let stale = 0;
for (const [path, text] of generated) {
  const file = new URL(`../${path}`, import.meta.url);
  if (!check) {
    writeFileSync(file, text);
    process.stdout.write(`wrote ${path}\n`);
    continue;
  }
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // A missing file is stale too.
  }
  if (current === text) {
    process.stdout.write(`${path} is current\n`);
  } else {
    stale += 1;
    process.stderr.write(`${path} is stale: run \`npm run schema\`\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
