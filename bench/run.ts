/**
 * `npm run bench [-- name...]`: runs each benchmark script in bench/ in its own Node process (so
 * peak memory is per benchmark), one after the other, printing what each reports. Results are
 * recorded by hand in BENCHMARKS.md with the machine and date; nothing here asserts a time.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((name) => /\.(ts|mjs)$/.test(name) && name !== 'run.ts' && !name.includes('process') && !name.startsWith('_'))
  .filter((name) => filters.length === 0 || filters.some((filter) => name.includes(filter)))
  .sort();

const cpu = cpus()[0]?.model ?? 'unknown CPU';
process.stdout.write(
  `# dataspace-sync benchmarks, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
    `${cpus().length} x ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB\n\n`,
);
// The .mjs benchmarks measure the compiled code in dist/, as users run it.
if (scripts.some((name) => name.endsWith('.mjs'))) {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit', cwd: `${here}..` });
  if (build.status !== 0) throw new Error('npm run build failed');
}
let failed = 0;
for (const script of scripts) {
  process.stdout.write(`## ${script}\n\n`);
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const result = spawnSync(process.execPath, ['--expose-gc', ...loader, `${here}${script}`], {
    stdio: 'inherit',
    env: process.env,
  });
  if (result.status !== 0) {
    failed += 1;
    process.stdout.write(`(${script} failed with exit code ${result.status})\n`);
  }
  process.stdout.write('\n');
}
process.exitCode = failed > 0 ? 1 : 0;
