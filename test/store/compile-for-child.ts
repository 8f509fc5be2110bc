import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * Transpiles a TypeScript entry and the local modules it imports into `outDir`, so a child
 * process starts with plain `node` instead of loading tsx each time (the crash test spawns
 * dozens). Only relative imports are followed; packages resolve through a node_modules link.
 */
export function compileForChild(entry: string, repoRoot: string, outDir: string): string {
  const queue = [resolve(entry)];
  const done = new Set<string>();
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (done.has(file)) continue;
    done.add(file);
    const output = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const target = join(outDir, relative(repoRoot, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, output);
    // Scanning the output, not the source, skips imports that only carried types.
    for (const match of output.matchAll(/(?:from|import)\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g)) {
      queue.push(resolve(dirname(file), `${match[1]}.ts`));
    }
    // Worker threads' modules, started by name beside the module that starts them (core/worker-module.ts).
    for (const match of output.matchAll(/workerModuleUrl\(import\.meta\.url, ['"]([\w-]+)['"]\)/g)) {
      queue.push(resolve(dirname(file), `${match[1]}.ts`));
    }
  }
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(join(repoRoot, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  return join(outDir, relative(repoRoot, resolve(entry))).replace(/\.ts$/, '.js');
}
