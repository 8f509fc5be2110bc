/**
 * The portal's daily call quota: every call counts one (exports are not dearer), the count resets
 * at 00:00 UTC, and every successful answer says where the count stands in three headers. The
 * reset is written as portals write it on v2.1, a date and time (`2026-08-18 00:00:00+00:00`),
 * not the epoch seconds older documentation describes.
 */
export class DailyQuota {
  private used = 0;
  private day: string | undefined;

  constructor(
    readonly limit: number,
    private readonly now: () => Date,
  ) {}

  /** Counts a call; false when the day's quota is spent (the call is then refused, not counted). */
  take(): boolean {
    this.roll();
    if (this.used >= this.limit) return false;
    this.used += 1;
    return true;
  }

  /** Forgets the calls made today (a test's way to reach the next day). */
  reset(): void {
    this.used = 0;
  }

  /** Uses up the day's calls: the next call gets a 429. */
  exhaust(): void {
    this.roll();
    this.used = this.limit;
  }

  headers(): Record<string, string> {
    this.roll();
    return {
      'x-ratelimit-remaining': String(Math.max(0, this.limit - this.used)),
      'x-ratelimit-limit': String(this.limit),
      'x-ratelimit-reset': `${this.resetAt().toISOString().slice(0, 10)} 00:00:00+00:00`,
    };
  }

  /** The next 00:00 UTC. */
  resetAt(): Date {
    const now = this.now();
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  }

  private roll(): void {
    const today = this.now().toISOString().slice(0, 10);
    if (today !== this.day) {
      this.day = today;
      this.used = 0;
    }
  }
}
