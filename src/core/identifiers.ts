/**
 * Names of tables and columns, which sources derive from remote data (dimension ids, field names,
 * dataset ids): they must look like this before any engine quotes them. One rule for every engine,
 * so a source can tell at planning time whether a name will be accepted, and the store checks it
 * again whatever the source did.
 */
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_@$-]*$/;

/** PostgreSQL's limit, the tightest of the engines. */
export const MAX_IDENTIFIER_LENGTH = 63;

export function isValidIdentifier(name: string): boolean {
  return name.length <= MAX_IDENTIFIER_LENGTH && IDENTIFIER.test(name);
}

/** Why `name` cannot be an identifier, in words naming `what` it is; undefined when it can. */
export function identifierProblem(name: string, what: string): string | undefined {
  if (isValidIdentifier(name)) return undefined;
  return `${what} ${JSON.stringify(name)} is not a valid identifier (letters, digits, _ @ $ -; starting with a letter; at most ${MAX_IDENTIFIER_LENGTH} characters)`;
}

/**
 * A table a source planned from remote data cannot be mirrored as it is: a name that is not a valid
 * identifier, two columns that differ only in case, a column clashing with one the source adds.
 * Retrying cannot help until the remote or the config changes.
 */
export class TableLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TableLayoutError';
  }
}

/** Returns `name` when it is a valid identifier; throws a TableLayoutError naming `what` otherwise. */
export function assertIdentifier(name: string, what: string): string {
  const problem = identifierProblem(name, what);
  if (problem !== undefined) throw new TableLayoutError(problem);
  return name;
}
