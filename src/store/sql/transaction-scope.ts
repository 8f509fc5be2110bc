import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Knows whether the code running now is inside one of this store's transaction callbacks. A
 * transaction() called from there would wait for the very transaction it runs in (SQLite) or
 * silently write outside it (PostgreSQL); either way it is a bug, reported at once instead.
 */
export class TransactionScope {
  private readonly storage = new AsyncLocalStorage<{ open: boolean }>();

  assertNotNested(): void {
    if (this.storage.getStore()?.open) {
      throw new Error('store.transaction() was called inside a transaction of the same store; nested transactions are not supported (use the tx you were given)');
    }
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const context = { open: true };
    try {
      return await this.storage.run(context, fn);
    } finally {
      // Work the callback left behind (timers, streams) must not look nested once it returned.
      context.open = false;
    }
  }
}
