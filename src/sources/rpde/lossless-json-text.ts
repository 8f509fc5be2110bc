import { isLosslessNumber, isSafeNumber, LosslessNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';

/**
 * JSON parsing that keeps every number exactly (RPDE `modified` values above 2^53 are common:
 * .NET ticks, SQL Server rowversions), at close to `JSON.parse` speed.
 *
 * lossless-json is about ten times slower than `JSON.parse`, so it is used only for bodies that
 * hold a number `JSON.parse` could round: a cheap scan, which skips string contents with
 * `indexOf`, looks for number tokens with 16 or more digits or an exponent. Digits inside strings
 * (ids such as "00000000000170005743") do not count. In the lossless path only the unsafe numbers
 * become `LosslessNumber`s; the rest stay plain numbers.
 */
export interface ParsedJson {
  readonly value: unknown;
  /** True when the value may hold LosslessNumber instances (serialize it with `stringifyJson`). */
  readonly lossless: boolean;
}

export function parseJsonText(text: string): ParsedJson {
  if (!hasUnsafeNumberToken(text)) return { value: JSON.parse(text) as unknown, lossless: false };
  const value = parseLossless(text, null, {
    parseNumber: (token) => (isSafeNumber(token) ? Number(token) : new LosslessNumber(token)),
    // JSON.parse keeps the last of duplicate keys; do the same instead of throwing.
    onDuplicateKey: ({ newValue }) => newValue,
  });
  return { value, lossless: true };
}

/** Serializes a value from `parseJsonText` back to JSON text without rounding any number. */
export function stringifyJson(value: unknown, lossless: boolean): string {
  if (!lossless) return JSON.stringify(value);
  return stringifyLossless(value) ?? 'null';
}

/** The exact source text of a number from `parseJsonText`, or undefined when `value` is not a number. */
export function numberText(value: unknown): string | undefined {
  if (isLosslessNumber(value)) return value.toString();
  // Safe numbers print back as they were read, except for forms such as 1.0 or 1e3, which the
  // scan sends to the lossless path when they matter (exponents) and which are equal anyway.
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

const BACKSLASH = 0x5c;

/** True when some number token outside strings has 16+ digits or an exponent. */
export function hasUnsafeNumberToken(text: string): boolean {
  let position = 0;
  for (;;) {
    const quote = text.indexOf('"', position);
    const end = quote === -1 ? text.length : quote;
    if (segmentHasUnsafeNumber(text, position, end)) return true;
    if (quote === -1) return false;
    position = endOfString(text, quote + 1);
    if (position === -1) return false; // unterminated string: the parser will say so
  }
}

/** Index just past the closing quote of a string whose content starts at `from`, or -1. */
function endOfString(text: string, from: number): number {
  let position = from;
  for (;;) {
    const quote = text.indexOf('"', position);
    if (quote === -1) return -1;
    let backslashes = 0;
    for (let i = quote - 1; i >= from && text.charCodeAt(i) === BACKSLASH; i -= 1) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    position = quote + 1;
  }
}

/** Outside strings there are only structure, literals and numbers: count digits per token. */
function segmentHasUnsafeNumber(text: string, start: number, end: number): boolean {
  let digits = 0;
  for (let i = start; i < end; i += 1) {
    const code = text.charCodeAt(i);
    if (code >= 0x30 && code <= 0x39) {
      digits += 1;
      if (digits >= 16) return true;
    } else if (code === 0x65 || code === 0x45) {
      // `e`/`E` right after a digit is an exponent; elsewhere it is part of `true`/`false`.
      if (digits > 0) return true;
    } else if (code !== 0x2e && code !== 0x2d && code !== 0x2b) {
      digits = 0;
    }
  }
  return false;
}
