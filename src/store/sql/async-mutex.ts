/**
 * Runs async callbacks one at a time, in the order they were queued. A single SQLite connection
 * can hold one transaction, yet the callbacks that fill it await network reads: without this,
 * two streams would interleave their statements inside one BEGIN ... COMMIT.
 */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves, in turn, with the function that lets the next holder in; call it exactly once. */
  async lock(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.tail;
    this.tail = previous.then(() => held);
    await previous;
    return release;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
