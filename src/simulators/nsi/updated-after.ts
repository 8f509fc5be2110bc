/**
 * Reads `updatedAfter` the way the NSI does. The value is an xs:dateTime; without an offset the
 * service's local time is meant (docs/sdmx.md, "Queries"; REST1 §4.4). The query string is decoded by the
 * URL parser first, so a `+` the client did not encode as `%2B` arrives as a space and the value
 * no longer parses: the NSI answers 400 (its date parser accepts no space there). The other mode
 * reproduces the quieter failure some gateways show, where the broken offset is dropped and the
 * time is read as local time — a client that forgets to encode `+` then silently asks for the
 * wrong window.
 */

export type UnencodedPlusBehaviour = 'reject' | 'read-as-local-time';

export type UpdatedAfterResult = { readonly ok: true; readonly at: number } | { readonly ok: false; readonly message: string };

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|[+-]\d{2}:\d{2})?$/;

export function parseUpdatedAfter(
  raw: string,
  localOffsetMinutes: number,
  unencodedPlus: UnencodedPlusBehaviour,
): UpdatedAfterResult {
  let value = raw;
  const space = raw.indexOf(' ');
  if (space >= 0) {
    if (unencodedPlus === 'reject') {
      return { ok: false, message: `Invalid updatedAfter value '${raw}': not a valid xs:dateTime` };
    }
    value = raw.slice(0, space);
  }
  const match = DATE_TIME.exec(value);
  if (!match) return { ok: false, message: `Invalid updatedAfter value '${raw}': not a valid xs:dateTime` };
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', zone] = match;
  const ms = Number((fraction + '000').slice(0, 3));
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const check = new Date(local);
  if (check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return { ok: false, message: `Invalid updatedAfter value '${raw}': no such date or time` };
  }
  let offsetMinutes = localOffsetMinutes;
  if (zone === 'Z') offsetMinutes = 0;
  else if (zone) offsetMinutes = (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  return { ok: true, at: local - offsetMinutes * 60_000 };
}
