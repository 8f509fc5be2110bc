import { AsyncLocalStorage } from 'node:async_hooks';

/** One open transaction callback, and the ones it runs inside (of other stores). */
interface OpenTransaction {
  readonly scope: TransactionScope;
  open: boolean;
  readonly outer: OpenTransaction | undefined;
}

/**
 * One storage for every store in the process. Node keeps each AsyncLocalStorage that ever ran in a
 * list it walks on every promise and async resource created, for good: a storage per store made
 * every await slower with each store opened (a test opening 200 stores spent a third of its CPU
 * time there).
 */
const transactions = new AsyncLocalStorage<OpenTransaction>();

/**
 * Knows whether the code running now is inside one of this store's transaction callbacks. A
 * transaction() called from there would wait for the very transaction it runs in (SQLite) or
 * silently write outside it (PostgreSQL); either way it is a bug, reported at once instead.
 */
export class TransactionScope {
  assertNotNested(): void {
    for (let entry = transactions.getStore(); entry !== undefined; entry = entry.outer) {
      if (entry.scope === this && entry.open) {
        throw new Error('store.transaction() was called inside a transaction of the same store; nested transactions are not supported (use the tx you were given)');
      }
    }
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const entry: OpenTransaction = { scope: this, open: true, outer: transactions.getStore() };
    try {
      return await transactions.run(entry, fn);
    } finally {
      // Work the callback left behind (timers, streams) must not look nested once it returned.
      entry.open = false;
    }
  }
}
