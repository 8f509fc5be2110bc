/**
 * Exponential backoff with full jitter (the AWS architecture blog's variant): the delay after the
 * n-th consecutive failure is uniform in [0, min(max, initial * 2^(n-1))], never below a tenth of
 * the initial delay so a failing stream cannot spin.
 */
export function backoffDelay(
  consecutiveFailures: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(consecutiveFailures - 1, 0), 30);
  const ceiling = Math.min(maxMs, initialMs * 2 ** exponent);
  return Math.max(Math.round(initialMs / 10), Math.round(random() * ceiling));
}
