/**
 * The tables a job's streams will write, as its config alone tells (no I/O). Every job of every
 * kind writes into the one store, so two jobs writing the same table would overwrite each other
 * (a full load of one replaces the other's table); the config loader refuses that before anything
 * runs, whatever the kinds of the two jobs.
 */
export interface TableClaim {
  /** A table's name; with `family`, the start shared by the names of every table the claim covers. */
  readonly name: string;
  /**
   * The claim covers every table whose name starts with `name`: for tables named only once the
   * remote has been read (an SDMX dataflow's attribute tables, the feeds an RPDE dataset site
   * lists, the datasets an ODS catalog query finds). Such a claim is conservative: it clashes with
   * any table of that family another job names, whether or not the remote ever lists it.
   */
  readonly family?: boolean;
  /** Where in the job the claim comes from, for messages: `['dataflows', 0]`. */
  readonly path: readonly PropertyKey[];
  /** What writes the table, in words: `dataflow OECD:DF_X(1.0)`, `feeds found at https://...`. */
  readonly by: string;
}

/** A job with its claims, for {@link findTableClashes}. */
export interface ClaimingJob {
  readonly id: string;
  readonly claims: readonly TableClaim[];
}

export interface TableClash {
  /** Index of the later job in the list, and its claim. */
  readonly job: number;
  readonly claim: TableClaim;
  /** The earlier job (possibly the same one) and its claim. */
  readonly other: { readonly job: number; readonly claim: TableClaim };
  /** A table both would write (a family is shown as `name*`). */
  readonly table: string;
}

/**
 * Every pair of claims, from different places in the config, that could write the same table; one
 * clash per pair of places, the later one reported against the earlier. Names compare without
 * case, as SQL identifiers do.
 */
export function findTableClashes(jobs: readonly ClaimingJob[]): TableClash[] {
  const seen: { job: number; claim: TableClaim }[] = [];
  const clashes: TableClash[] = [];
  const reported = new Set<string>();
  jobs.forEach((job, index) => {
    for (const claim of job.claims) {
      for (const earlier of seen) {
        if (earlier.job === index && samePath(earlier.claim.path, claim.path)) continue;
        // Within one job the kind names its discovered tables together with the listed ones and
        // refuses at expansion when two meet, so a family only clashes with other jobs' tables.
        if (earlier.job === index && (earlier.claim.family === true || claim.family === true)) continue;
        const table = sharedTable(earlier.claim, claim);
        if (table === undefined) continue;
        const pair = `${earlier.job}\u0000${pathKey(earlier.claim.path)}\u0000${index}\u0000${pathKey(claim.path)}`;
        if (reported.has(pair)) continue;
        reported.add(pair);
        clashes.push({ job: index, claim, other: earlier, table });
      }
      seen.push({ job: index, claim });
    }
  });
  return clashes;
}

/**
 * The clash in words, for a message placed at the later claim: `locate` says where a claim is in
 * the config (`jobs[0].dataflows[1]`), or undefined outside a config (a job expanded on its own).
 */
export function describeClash(
  clash: TableClash,
  jobs: readonly ClaimingJob[],
  locate: (job: number, path: readonly PropertyKey[]) => string | undefined = () => undefined,
): string {
  const { claim, other } = clash;
  const owner = other.job === clash.job ? '' : ` of job ${jobs[other.job]?.id ?? '?'}`;
  const where = locate(other.job, other.claim.path);
  const verb = other.claim.family === true ? 'may write' : 'writes';
  return `${claim.by} would write table ${clash.table}, which ${other.claim.by}${owner}${where === undefined ? '' : ` (${where})`} ${verb} too; give one of them another table prefix`;
}

/** Throws on the first clash between a job's own claims (a job expanded without its config). */
export function assertOwnTablesApart(job: ClaimingJob): void {
  const [clash] = findTableClashes([job]);
  if (clash !== undefined) throw new Error(`job ${job.id}: ${describeClash(clash, [job])}`);
}

/** A table name both claims cover, or undefined when they cannot meet. */
function sharedTable(a: TableClaim, b: TableClaim): string | undefined {
  const an = a.name.toLowerCase();
  const bn = b.name.toLowerCase();
  if (!a.family && !b.family) return an === bn ? b.name : undefined;
  if (a.family && b.family) {
    if (bn.startsWith(an)) return `${b.name}*`;
    if (an.startsWith(bn)) return `${a.name}*`;
    return undefined;
  }
  const [family, table] = a.family ? [a, b] : [b, a];
  return table.name.toLowerCase().startsWith(family.name.toLowerCase()) ? table.name : undefined;
}

function samePath(a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean {
  return pathKey(a) === pathKey(b);
}

function pathKey(path: readonly PropertyKey[]): string {
  return path.map(String).join('\u0000');
}
