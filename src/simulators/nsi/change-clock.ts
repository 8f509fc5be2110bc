/**
 * When changes happen, in milliseconds since the epoch. Every change gets a time strictly later
 * than the previous one even when the wall clock stands still or steps back (a frozen test clock,
 * an NTP correction), so "changed at or after T" always separates before from after.
 */
export class ChangeClock {
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: () => Date) {}

  next(): number {
    const now = this.clock().getTime();
    this.last = now > this.last ? now : this.last + 1;
    return this.last;
  }

  /** The wall clock as the simulator sees it (for the HTTP `Date` header). */
  now(): Date {
    return this.clock();
  }
}
