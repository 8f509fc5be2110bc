import { createHash } from 'node:crypto';
import type { DriverRow } from '../sql/engine.js';

/**
 * sp_getapplock owned by the transaction: the server frees it at COMMIT or ROLLBACK, and with the
 * session if the connection dies, so it can never outlive the code that took it (a session-owned
 * lock would stay with a pooled connection that the pool never resets). The resource is
 * nvarchar(255) and compared with case: callers lower-case what folds. `timeoutMs` 0 answers at
 * once; the result (0 or 1 granted, below 0 refused) comes back as the row `r`.
 */
export function getApplockSql(timeoutMs: number): string {
  return (
    'DECLARE @r INT; ' +
    `EXEC @r = sp_getapplock @Resource = @p1, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = ${Math.trunc(timeoutMs)}; ` +
    'SELECT @r AS [r];'
  );
}

/** Releasing a lock not held is an error, which would abort the transaction: only a held one is released. */
export const RELEASE_APPLOCK_SQL =
  "IF APPLOCK_MODE(N'public', @p1, N'Transaction') <> N'NoLock' EXEC sp_releaseapplock @Resource = @p1, @LockOwner = N'Transaction'";

/** sp_getapplock's answer: granted (0, 1), or what refused it. */
export function applockGranted(rows: readonly DriverRow[], resource: string): boolean {
  const code = Number(rows[0]?.r);
  if (code === 0 || code === 1) return true;
  if (code === -1) return false;
  const reasons: Record<number, string> = { [-2]: 'the request was cancelled', [-3]: 'it was chosen as a deadlock victim', [-999]: 'the call was invalid' };
  throw new Error(`SQL Server refused the application lock ${JSON.stringify(resource)}: ${reasons[code] ?? `sp_getapplock returned ${String(rows[0]?.r)}`}`);
}

/**
 * The lock's resource: up to 255 characters, so a longer name is cut and given a hash of the
 * whole. `fold`: the name is one the engine compares without case (a table's).
 */
export function applockResource(kind: string, schema: string, name: string, fold: boolean): string {
  const resource = `dataspace-sync:${kind}:${schema}:${fold ? name.toLowerCase() : name}`;
  if (resource.length <= 255) return resource;
  return `${resource.slice(0, 200)}#${createHash('sha256').update(resource).digest('hex').slice(0, 32)}`;
}
