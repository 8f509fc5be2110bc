/**
 * Runs async callbacks one at a time, in the order they were queued. A single SQLite connection
 * can hold one transaction, yet the callbacks that fill it await network reads: without this,
 * two streams would interleave their statements inside one BEGIN ... COMMIT.
 */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    // The next caller waits for this one to settle, whatever its outcome.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
