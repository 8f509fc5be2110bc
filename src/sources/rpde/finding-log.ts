import type { CheckId, ConformanceReport } from './conformance.js';

/** What records conformance findings: the stream's report, or a log to replay into it later. */
export type FindingRecorder = Pick<ConformanceReport, 'record'>;

/** One check's findings in a log: how many, and the first few messages. */
export type LoggedFinding = readonly [check: CheckId, count: number, samples: readonly string[]];

/** As many samples as a report keeps per check and run: more are never shown. */
const SAMPLES = 3;

/**
 * Findings kept aside as plain data (it crosses to and from the decoding thread), to be replayed
 * into the stream's report when their page is taken: a page fetched ahead and then not used (its
 * `next` was guessed wrong) must leave no trace in the report. Messages past the first few per
 * check are not built, as the report would not keep them either.
 */
export class FindingLog implements FindingRecorder {
  private readonly byCheck = new Map<CheckId, { count: number; samples: string[] }>();

  record(check: CheckId, sample: string | (() => string), count = 1): void {
    let finding = this.byCheck.get(check);
    if (finding === undefined) {
      finding = { count: 0, samples: [] };
      this.byCheck.set(check, finding);
    }
    if (finding.samples.length < SAMPLES) finding.samples.push(typeof sample === 'string' ? sample : sample());
    finding.count += count;
  }

  entries(): LoggedFinding[] {
    return [...this.byCheck].map(([check, { count, samples }]) => [check, count, samples]);
  }
}

/** Records logged findings into `report`, with their counts and samples. */
export function replayFindings(entries: readonly LoggedFinding[], report: FindingRecorder): void {
  for (const [check, count, samples] of entries) {
    // The last sample carries the count left over, as one record(check, sample, n) call would.
    samples.forEach((sample, index) => report.record(check, sample, index === samples.length - 1 ? count - index : 1));
  }
}
