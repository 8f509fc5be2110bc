import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { builtInKinds } from '../../src/sources/registry.js';
import { runCli } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch-dir.js';

/**
 * A README that lies fails CI: every command it shows (in sh blocks, or inline in code spans) is
 * run by a test or by .ci/run. Each entry below names where, and the test checks that place still
 * runs it; a command with no entry fails, so a new command in the README needs its runner first.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Runner {
  readonly command: RegExp;
  /** The file that runs it, and text that shows it does. */
  readonly file: string;
  readonly evidence: string;
}

const RUNNERS: readonly Runner[] = [
  { command: /^npm ci$/, file: '.ci/run', evidence: '\nnpm ci\n' },
  { command: /^npm test$/, file: '.ci/run', evidence: '\nnpm test -- ' },
  // The unit tier alone: a part of what `npm test` runs in CI (vitest.config.ts names the projects).
  { command: /^npm run test:unit$/, file: 'package.json', evidence: '"test:unit": "vitest run --project unit"' },
  { command: /^npm run test:hardening$/, file: '.ci/run', evidence: '\nnpm run test:hardening\n' },
  { command: /^npm run build$/, file: '.ci/run', evidence: '\nnpm run build\n' },
  { command: /^npm run lint$/, file: '.ci/run', evidence: '\nnpm run lint\n' },
  { command: /^bash \.ci\/run$/, file: '.ci/run', evidence: 'CI entry point' },
  { command: /^npm start$/, file: 'test/cli/npm-start.test.ts', evidence: "spawn('npm', ['start', '--ignore-scripts']" },
  { command: /^npm run demo$/, file: 'test/cli/demo.test.ts', evidence: "spawn('npm', ['run', 'demo', '--ignore-scripts'" },
  { command: /^npm run demo -- --for \d+s$/, file: 'test/cli/demo.test.ts', evidence: "startCli(['demo', '--for'," },
  { command: /^npm run schema$/, file: 'test/docs/readme-commands.test.ts', evidence: "['run', 'schema', '--', '--check']" },
  { command: /^npm run bench$/, file: 'test/docs/readme-commands.test.ts', evidence: "['run', 'bench', '--', 'no-such-benchmark']" },
  { command: /^docker (build|run|stop)\b/, file: 'test/docker/dockerfile.test.ts', evidence: "startsWith('docker run ')" },
  { command: /^(node dist\/main\.js|dataspace-sync) (<command>|run|healthcheck)$/, file: 'test/docs/readme-commands.test.ts', evidence: "runCli(['help'])" },
  // One file of the unit tier stands for `test/path`; the verbose reporter's per-test times are checked.
  { command: /^npx vitest run (test\/path|--reporter=verbose)$/, file: 'test/docs/readme-commands.test.ts', evidence: "['vitest', 'run', 'test/docs/references.test.ts', '--reporter=verbose']" },
  { command: /^export DSS_STATUS_TOKEN=\$\(openssl rand -hex 32\)$/, file: 'test/docs/readme-commands.test.ts', evidence: "spawnSync('bash', ['-c', `${exportLine}" },
];

/** Commands in ```sh blocks (each `&&` part), and inline code spans that start like a command. */
function readmeCommands(): string[] {
  const commands = new Set<string>();
  for (const block of README.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of (block[1] as string).split('\n')) {
      for (const part of line.split('&&')) if (part.trim() !== '') commands.add(part.trim());
    }
  }
  for (const span of README.matchAll(/`([^`\n]+)`/g)) {
    const text = (span[1] as string).trim();
    if (/^(npm|npx|node|docker|bash|dataspace-sync|export) /.test(text)) commands.add(text);
  }
  return [...commands];
}

describe('the README', () => {
  it('shows only commands that a test or .ci/run runs', () => {
    const commands = readmeCommands();
    expect(commands.length).toBeGreaterThan(10);
    const unrun = commands.filter((command) => !RUNNERS.some((runner) => runner.command.test(command)));
    expect(unrun, 'README commands nothing runs: add a test, then a runner entry here').toEqual([]);
    for (const runner of RUNNERS) {
      const text = readFileSync(join(ROOT, runner.file), 'utf8');
      expect(text, `${runner.file} no longer runs ${String(runner.command)}`).toContain(runner.evidence);
    }
  });

  it('lists in its command table exactly the commands the CLI has', async () => {
    const help = await runCli(['help']);
    expect(help.code).toBe(0);
    const commands = help.stdout.slice(help.stdout.indexOf('Commands:'));
    const cli = [...commands.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((match) => match[1]).filter((name) => name !== 'help');
    const table = README.slice(README.indexOf('## Commands'), README.indexOf('## Configuration'));
    const documented = [...table.matchAll(/^\| `([a-z-]+)/gm)].map((match) => match[1]);
    expect(documented.sort()).toEqual(cli.sort());
    // `dataspace-sync <command>` once installed: the package's bin is the compiled CLI.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ 'dataspace-sync': 'dist/main.js' });
  });

  it('`npm run schema` finds the generated files current (its --check mode writes nothing)', () => {
    const result = spawnSync('npm', ['run', 'schema', '--', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.stderr + result.stdout).toContain('docs/configuration.md is current');
    expect(result.status).toBe(0);
  });

  it('`npm run bench` starts (with a filter that selects no benchmark, so that it ends at once)', () => {
    const result = spawnSync('npm', ['run', 'bench', '--', 'no-such-benchmark'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.stdout).toMatch(/# dataspace-sync benchmarks, \d{4}-\d\d-\d\d, Node v/);
    expect(result.status).toBe(0);
    expect(existsSync(join(ROOT, 'BENCHMARKS.md'))).toBe(true);
  });

  it('`npx vitest run <file> --reporter=verbose` runs one file and shows each test with its time', () => {
    // The child is a vitest of its own: none of this run's worker settings may leak into it.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name !== 'NODE_OPTIONS'));
    const result = spawnSync('npx', ['vitest', 'run', 'test/docs/references.test.ts', '--reporter=verbose'], { cwd: ROOT, encoding: 'utf8', env: { ...env, NO_COLOR: '1' } });
    expect(result.stdout).toMatch(/references in the code > never point to documents outside the repository \d+ms/);
    expect(result.stdout).toMatch(/Tests\s+2 passed/);
    expect(result.status).toBe(0);
  });

  it('`export DSS_STATUS_TOKEN=$(openssl rand -hex 32)` makes a token the README\'s server section accepts', async () => {
    const exportLine = /`(export DSS_STATUS_TOKEN=[^`]+)`/.exec(README)?.[1] ?? '';
    const server = /`("server": \{[^`]+\})`/.exec(README)?.[1] ?? '';
    const made = spawnSync('bash', ['-c', `${exportLine} && printf %s "$DSS_STATUS_TOKEN"`], { encoding: 'utf8' });
    expect(made.status).toBe(0);
    expect(made.stdout).toMatch(/^[0-9a-f]{64}$/);
    const dir = scratchDir('dss-readme-token-');
    const config = join(dir, 'sync.config.json');
    writeFileSync(config, `{ ${server}, "jobs": [] }`);
    const checked = await runCli(['check-config', '--config', config], { env: { DSS_STATUS_TOKEN: made.stdout } });
    rmSync(dir, { recursive: true, force: true });
    expect(checked.stdout + checked.stderr).toContain('ok (0 jobs)');
    expect(checked.code).toBe(0);
  });

  it('shows job configs that the config loader accepts, each as the only job of a config', () => {
    const examples = [...README.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1] as string);
    expect(examples.length).toBeGreaterThanOrEqual(5);
    const kinds = new Set<string>();
    for (const example of examples) {
      const job = JSON.parse(example) as { kind: string };
      kinds.add(job.kind);
      // Every ${NAME} the example uses is set, to a value long enough for any key.
      const env = Object.fromEntries([...example.matchAll(/\$\{([A-Z_]+)\}/g)].map((match) => [match[1] as string, 'x'.repeat(32)]));
      expect(() => parseConfig(JSON.stringify({ jobs: [job] }), 'README.md', builtInKinds, env), example).not.toThrow();
    }
    expect([...kinds].sort()).toEqual(builtInKinds.map((kind) => kind.kind).sort());
  });
});
