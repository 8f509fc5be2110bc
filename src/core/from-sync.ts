/**
 * Runs a synchronous implementation of an asynchronous contract (better-sqlite3 behind the Store
 * port, a kind whose expansion needs no I/O): a throw becomes a rejection, exactly as it would in
 * an `async` function, so callers that chain `.catch` or `Promise.all` see the same behaviour.
 */
export function fromSync<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}
