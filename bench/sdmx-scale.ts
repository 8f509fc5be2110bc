/**
 * SDMX full load at growing sizes (issue 10): 250k, 1M, 4M and 10M observations of the full-load
 * dataflow (4 dimensions + TIME_PERIOD, OBS_VALUE, an observation-level and a series-level
 * attribute), each run in a process of its own (bench/_sdmx-scale-child.mjs), reporting wall time,
 * obs/s, CPU seconds and peak RSS per size, for
 *   - ours: the compiled dist/ (SdmxSource -> runStream -> SQLite, as shipped),
 *   - csv-parse -> better-sqlite3: the same answer parsed by csv-parse, each record inserted with a
 *     prepared statement in one transaction, into the same tables with the same key and pragmas,
 *   - download + gunzip only,
 * taking turns within each round, so the VM's drift is shared. The remote answers from memory (the
 * answer is generated once per size, byte for byte the simulator's; bench/sdmx-nsi-process.ts
 * `recorded` and `synthetic`), as a remote on another machine would: the client has the two cores
 * to itself. Each run's figures are printed as JSON as it ends.
 *
 * Run: node --import tsx bench/sdmx-scale.ts [--sizes 250000,1000000,4000000,10000000] [--runs 3]
 *        [--runs-above-4m 3] [--contenders download,csv-sqlite,ours] [--no-build]
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchArgs, FULL_LOAD_FLOW, median, mib, printTable } from './_bench-kit.mjs';
import { startNsiProcess } from './_nsi-process-client.js';

const args = benchArgs({ sizes: '250000,1000000,4000000,10000000', runs: 3, 'runs-above-4m': 3, contenders: 'download,csv-sqlite,ours', 'no-build': false });
const SIZES = args.sizes.split(',').map(Number);
const CONTENDERS = args.contenders.split(',') as Contender[];
const here = fileURLToPath(new URL('.', import.meta.url));
const child = `${here}_sdmx-scale-child.mjs`;

type Contender = 'ours' | 'csv-sqlite' | 'download';
const NAMES: Record<Contender, string> = {
  ours: 'dataspace-sync (dist/)',
  'csv-sqlite': 'csv-parse -> better-sqlite3',
  download: 'download + gunzip only',
};

interface Run {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** CPU seconds of the main thread and of the busiest other one (Linux only). */
  readonly mainCpuSeconds?: number;
  readonly otherCpuSeconds?: number;
  readonly baseRss: number;
  readonly peakRss: number;
}

async function main(): Promise<void> {
  if (!args['no-build']) {
    const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit', cwd: `${here}..` });
    if (build.status !== 0) throw new Error('npm run build failed');
  }
  console.log(
    `SDMX full load by size: ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? '?'}; ` +
      `median of ${args.runs} run(s) per contender and size (${args['runs-above-4m']} above 4M), one process per run, contenders taking turns`,
  );
  const results = new Map<number, Map<Contender, Run[]>>();
  for (const size of SIZES) {
    const nsi = await startNsiProcess([{ id: FULL_LOAD_FLOW, observations: size }], { recorded: true, synthetic: true });
    const bySize = new Map<Contender, Run[]>(CONTENDERS.map((contender) => [contender, []]));
    results.set(size, bySize);
    const loadBefore = loadavg()[0] as number;
    try {
      const runs = size > 4_000_000 ? args['runs-above-4m'] : args.runs;
      for (let run = 0; run < runs; run += 1) {
        for (const contender of CONTENDERS) {
          const out = spawnSync(process.execPath, [child, contender, nsi.url, String(size)], { encoding: 'utf8', maxBuffer: 1 << 20 });
          if (out.status !== 0) throw new Error(`${contender} at ${size} failed (exit ${out.status}): ${out.stderr}`);
          const last = out.stdout.trim().split('\n').at(-1) ?? '';
          (bySize.get(contender) as Run[]).push(JSON.parse(last) as Run);
          console.log(`  ${last} (load average ${(loadavg()[0] as number).toFixed(1)})`);
        }
      }
    } finally {
      await nsi.close();
    }
    printSize(size, bySize, loadBefore, loadavg()[0] as number);
  }
  printSummary(results);
}

function printSize(size: number, bySize: ReadonlyMap<Contender, readonly Run[]>, loadBefore: number, loadAfter: number): void {
  console.log(`\n${size.toLocaleString('en')} observations (load average ${loadBefore.toFixed(1)} -> ${loadAfter.toFixed(1)})`);
  const rows = [...bySize].map(([contender, runs]) => {
    const seconds = runs.map((run) => run.seconds);
    return [
      NAMES[contender],
      Math.round(size / median(seconds)).toLocaleString('en'),
      `${median(seconds).toFixed(2)} (${Math.min(...seconds).toFixed(2)}-${Math.max(...seconds).toFixed(2)})`,
      median(runs.map((run) => run.cpuSeconds)).toFixed(2),
      threads(runs),
      `${mib(median(runs.map((run) => run.peakRss)))} (${mib(Math.min(...runs.map((run) => run.peakRss)))}-${mib(Math.max(...runs.map((run) => run.peakRss)))})`,
      String(mib(median(runs.map((run) => run.baseRss)))),
    ];
  });
  printTable(['contender', 'obs/s', 'seconds (range)', 'CPU s', 'main / busiest other thread CPU s', 'peak RSS MiB (range)', 'RSS at start MiB'], rows);
}

/**
 * The CPU seconds of the main thread and the busiest other one: on this shared VM the wall time
 * depends on what else runs, but on two idle cores the larger of the two bounds it.
 */
function threads(runs: readonly Run[]): string {
  const main = runs.map((run) => run.mainCpuSeconds).filter((value) => value !== undefined);
  const other = runs.map((run) => run.otherCpuSeconds).filter((value) => value !== undefined);
  return main.length === 0 || other.length === 0 ? '-' : `${median(main).toFixed(2)} / ${median(other).toFixed(2)}`;
}

function printSummary(results: ReadonlyMap<number, ReadonlyMap<Contender, readonly Run[]>>): void {
  const rate = (size: number, contender: Contender): number | undefined => {
    const runs = results.get(size)?.get(contender);
    return runs === undefined || runs.length === 0 ? undefined : size / median(runs.map((run) => run.seconds));
  };
  console.log('\nsummary (medians)');
  const lines: string[][] = [];
  for (const size of results.keys()) {
    const ours = rate(size, 'ours');
    const baseline = rate(size, 'csv-sqlite');
    const peak = results.get(size)?.get('ours');
    lines.push([
      size.toLocaleString('en'),
      ours === undefined ? '-' : Math.round(ours).toLocaleString('en'),
      ours === undefined || baseline === undefined ? '-' : `${(ours / baseline).toFixed(2)}x`,
      ours === undefined || rate(1_000_000, 'ours') === undefined ? '-' : `${(ours / (rate(1_000_000, 'ours') as number)).toFixed(2)}`,
      peak === undefined || peak.length === 0 ? '-' : String(mib(median(peak.map((run) => run.peakRss)))),
    ]);
  }
  printTable(['observations', 'ours obs/s', 'ours / csv-parse -> better-sqlite3', 'obs/s vs 1M', 'ours peak RSS MiB'], lines);
}

await main();
