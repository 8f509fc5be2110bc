import { identifierProblem } from '../core/identifiers.js';
import { StoreSchemaError } from './store.js';

export { MAX_IDENTIFIER_LENGTH } from '../core/identifiers.js';

/**
 * The store checks every identifier again before quoting it, whatever the source checked: the rule
 * is core's, the error the store's own.
 */
export function assertIdentifier(name: string, what: string): string {
  const problem = identifierProblem(name, what);
  if (problem !== undefined) throw new StoreSchemaError(problem);
  return name;
}
