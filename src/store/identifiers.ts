import { StoreSchemaError } from './store.js';

/** DESIGN §3: identifiers from remote data must look like this before any engine quotes them. */
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_@$-]*$/;
export const MAX_IDENTIFIER_LENGTH = 63; // PostgreSQL's limit is the tightest of our engines

export function isValidIdentifier(name: string): boolean {
  return name.length <= MAX_IDENTIFIER_LENGTH && IDENTIFIER.test(name);
}

export function assertIdentifier(name: string, what: string): string {
  if (!isValidIdentifier(name)) {
    throw new StoreSchemaError(
      `${what} ${JSON.stringify(name)} is not a valid identifier (letters, digits, _ @ $ -; starting with a letter; at most ${MAX_IDENTIFIER_LENGTH} characters)`,
    );
  }
  return name;
}
