/**
 * RPDE `modified` values are integers (epoch seconds, .NET ticks, rowversions up to 2^60, change
 * numbers) or, less often, strings compared as strings. The mirror keeps one sortable text key per
 * item so that the store's "newer wins" guard (`unlessStoredNewer`) compares them correctly with a
 * plain text comparison, whatever their size and on every engine, without a per-feed column type:
 *
 * - a non-negative integer `n` becomes `n` + two-digit length + digits: `1453931101` -> `n101453931101`.
 *   Longer numbers sort after shorter ones, equal lengths compare digit by digit, so the text order
 *   is the numeric order for any size (no 2^53 or 2^63 limit).
 * - a negative integer becomes `m` + (99 - length) + the digits' nines' complement, so that it sorts
 *   before every non-negative one and in numeric order among negatives.
 * - anything else becomes `s` + the string itself: lexicographic, as the spec asks for strings.
 *
 * Keys only ever compare ASCII-prefixed text, so SQLite's binary collation and JavaScript's `<`
 * agree. (PostgreSQL must compare the column with the "C" collation to agree too.)
 */

const INTEGER = /^-?(0|[1-9]\d*)$/;
const MAX_DIGITS = 99;

export interface ModifiedValue {
  /** Sortable key stored in the `modified` column. */
  readonly key: string;
  /** The value as the feed wrote it: the number's source text, or the string. */
  readonly raw: string;
  /** 'integer': a JSON integer; 'integer-string': an integer written as a string (C16); 'string': any other string; 'number': a non-integer number (C17). */
  readonly form: 'integer' | 'integer-string' | 'string' | 'number';
}

/** Encodes a `modified` token. `numberText` is the source text of a JSON number, `stringValue` a JSON string. */
export function modifiedFromNumberText(numberText: string): ModifiedValue {
  if (INTEGER.test(numberText) && digitCount(numberText) <= MAX_DIGITS) {
    return { key: integerKey(numberText), raw: numberText, form: 'integer' };
  }
  return { key: `s${numberText}`, raw: numberText, form: 'number' };
}

export function modifiedFromString(value: string): ModifiedValue {
  // A string holding an integer breaks the spec ("Integer values MUST be represented as integers"),
  // but comparing such strings as text would put "999" after "1000": order them as numbers.
  if (INTEGER.test(value) && digitCount(value) <= MAX_DIGITS) {
    return { key: integerKey(value), raw: value, form: 'integer-string' };
  }
  return { key: `s${value}`, raw: value, form: 'string' };
}

function digitCount(integerText: string): number {
  return integerText.startsWith('-') ? integerText.length - 1 : integerText.length;
}

function integerKey(text: string): string {
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  if (!negative || digits === '0') return `n${String(digits.length).padStart(2, '0')}${digits}`;
  let complement = '';
  for (const digit of digits) complement += String(9 - Number(digit));
  return `m${String(MAX_DIGITS - digits.length).padStart(2, '0')}${complement}`;
}

/** Whether a key was made from an integer: integer and string keys have no common order. */
export function isIntegerKey(key: string): boolean {
  return key.startsWith('n') || key.startsWith('m');
}

/** The integer value of a key made from an integer, for BigInt arithmetic; undefined for strings. */
export function integerOfKey(key: string): bigint | undefined {
  if (key.startsWith('n')) return BigInt(key.slice(3));
  if (key.startsWith('m')) {
    let digits = '';
    for (const digit of key.slice(3)) digits += String(9 - Number(digit));
    return -BigInt(digits);
  }
  return undefined;
}
