/**
 * The run log of daemons sharing a store, read back from their JSON log lines (`log.level`
 * debug): every run of a stream lies between its `lease taken` and `releasing the lease` lines
 * (src/runner/run-stream.ts), so two intervals of one stream that overlap are two runs at once.
 */

export interface RunInterval {
  /** Which process ran it (the test's name for it). */
  readonly process: string;
  readonly stream: string;
  readonly epoch: number;
  /** ms since the epoch, from the log lines' `time`. */
  readonly from: number;
  readonly to: number;
  /** The process died in the middle: `to` is when it was killed. */
  readonly cutShort: boolean;
}

interface LogLine {
  readonly msg?: unknown;
  readonly stream?: unknown;
  readonly epoch?: unknown;
  readonly time?: unknown;
}

/**
 * The runs one process logged. A run still open at the end is one the process never finished:
 * it ends at `killedAt` (the process was killed then), or the log is incomplete and this throws.
 */
export function runIntervals(name: string, output: string, killedAt?: number): RunInterval[] {
  const open = new Map<string, { epoch: number; from: number }>();
  const runs: RunInterval[] = [];
  for (const text of output.split('\n')) {
    if (!text.startsWith('{')) continue;
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      // A line cut short by SIGKILL.
      continue;
    }
    if (typeof line.stream !== 'string' || typeof line.time !== 'string') continue;
    const at = Date.parse(line.time);
    if (line.msg === 'lease taken') {
      if (open.has(line.stream)) throw new Error(`${name}: stream ${line.stream} taken twice without a release in between`);
      open.set(line.stream, { epoch: Number(line.epoch), from: at });
    } else if (line.msg === 'releasing the lease') {
      const run = open.get(line.stream);
      if (!run) throw new Error(`${name}: stream ${line.stream} released without being taken`);
      open.delete(line.stream);
      runs.push({ process: name, stream: line.stream, epoch: run.epoch, from: run.from, to: at, cutShort: false });
    }
  }
  for (const [stream, run] of open) {
    if (killedAt === undefined) throw new Error(`${name}: the run of ${stream} taken at ${new Date(run.from).toISOString()} never ended`);
    runs.push({ process: name, stream, epoch: run.epoch, from: run.from, to: killedAt, cutShort: true });
  }
  return runs;
}

/** Pairs of runs of one stream that were going at the same moment. */
export function overlappingRuns(runs: readonly RunInterval[]): [RunInterval, RunInterval][] {
  const byStream = new Map<string, RunInterval[]>();
  for (const run of runs) byStream.set(run.stream, [...(byStream.get(run.stream) ?? []), run]);
  const overlaps: [RunInterval, RunInterval][] = [];
  for (const list of byStream.values()) {
    const sorted = [...list].sort((a, b) => a.from - b.from);
    for (let i = 0; i < sorted.length; i += 1) {
      for (let j = i + 1; j < sorted.length; j += 1) {
        const [a, b] = [sorted[i] as RunInterval, sorted[j] as RunInterval];
        // The log's clock counts whole milliseconds: a run may start in the millisecond the last one released.
        if (b.from < a.to) overlaps.push([a, b]);
      }
    }
  }
  return overlaps;
}

/**
 * The runs as their leases: a lease taken before `serverDownAt` ended then at the latest, however
 * long its run went on (a database restart ends every session, and with it every advisory lock).
 * What such a run did after that is for lease_epoch to refuse, not for the lock to prevent.
 */
export function leasesEndedBy(runs: readonly RunInterval[], serverDownAt: number): RunInterval[] {
  return runs.map((run) => (run.from < serverDownAt && run.to > serverDownAt ? { ...run, to: serverDownAt } : run));
}
