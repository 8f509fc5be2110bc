/**
 * The Accept header as the NSI reads it: media types in order of preference (q), with the
 * SDMX `version` parameter deciding between SDMX-JSON 1.0 and 2.0 and between SDMX-CSV 1.0 and 2.0.
 */

export type StructureFormat = 'json1' | 'json2' | 'xml21';

interface MediaRange {
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
  readonly q: number;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header || header.trim() === '') return [];
  const ranges = header.split(',').map((part, order) => {
    const [type = '', ...rest] = part.split(';').map((p) => p.trim());
    const params = new Map<string, string>();
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"|"$/g, ''));
    }
    const q = params.has('q') ? Number(params.get('q')) : 1;
    return { type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0, order };
  });
  return ranges
    .filter((r) => r.q > 0 && r.type !== '')
    .sort((a, b) => b.q - a.q || a.order - b.order)
    .map(({ type, params, q }) => ({ type, params, q }));
}

/**
 * The structure format to answer with, among those `offered`, or undefined (406). A path of the
 * v2 API defaults JSON to 2.0, a v1 path to 1.0; no preference at all gets SDMX-ML 2.1 as on NSI.
 */
export function chooseStructureFormat(
  accept: string | undefined,
  offered: readonly StructureFormat[],
  flavour: 'v1' | 'v2',
): StructureFormat | undefined {
  const ranges = parseAccept(accept);
  const fallback: StructureFormat[] = ['xml21', flavour === 'v2' ? 'json2' : 'json1'];
  if (ranges.length === 0) return fallback.find((f) => offered.includes(f)) ?? offered[0];
  for (const range of ranges) {
    const version = range.params.get('version');
    let wanted: StructureFormat[] = [];
    if (range.type === 'application/vnd.sdmx.structure+json' || range.type === 'application/json') {
      if (version === undefined) wanted = [flavour === 'v2' ? 'json2' : 'json1'];
      else if (/^1(\.0){0,2}$/.test(version)) wanted = ['json1'];
      else if (/^2(\.0){0,2}$/.test(version)) wanted = ['json2'];
    } else if (range.type === 'application/vnd.sdmx.structure+xml') {
      if (version === undefined || /^2\.1(\.0)?$/.test(version)) wanted = ['xml21'];
    } else if (range.type === 'application/xml' || range.type === 'text/xml') {
      wanted = ['xml21'];
    } else if (range.type === '*/*' || range.type === 'application/*') {
      wanted = fallback.concat(offered);
    }
    const found = wanted.find((f) => offered.includes(f));
    if (found) return found;
  }
  return undefined;
}

/** Whether the client asked for SDMX-CSV 2.x with ids as labels; a problem text when not. */
export function acceptsCsv20(accept: string | undefined): string | undefined {
  for (const range of parseAccept(accept)) {
    if (range.type !== 'application/vnd.sdmx.data+csv') continue;
    const version = range.params.get('version');
    if (version === undefined || !/^2(\.\d+){0,2}$/.test(version)) continue;
    const labels = range.params.get('labels');
    if (labels !== undefined && labels !== 'id') return `labels=${labels} is not offered here; use labels=id`;
    const timeFormat = range.params.get('timeformat');
    if (timeFormat !== undefined && timeFormat !== 'original') return `timeFormat=${timeFormat} is not offered here`;
    return undefined;
  }
  return `this simulator answers data only as application/vnd.sdmx.data+csv;version=2.0.0 (Accept was ${JSON.stringify(accept ?? '')})`;
}
