import { assertIdentifier } from '../identifiers.js';

/**
 * Double-quoted identifier, the quoting SQLite and PostgreSQL share. Validation comes first, so a
 * quote character can never reach the SQL text (the identifier pattern excludes it).
 */
export function quoteIdent(name: string, what = 'identifier'): string {
  return `"${assertIdentifier(name, what)}"`;
}
