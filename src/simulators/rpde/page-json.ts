import type { FeedVersion } from './rpde-feed.js';

export const CC_BY_4 = 'https://creativecommons.org/licenses/by/4.0/';

/** An item as the page shows it; `modified` may differ from the stored one when a fault rewrites it. */
export interface PageItem {
  readonly version: FeedVersion;
  readonly modified: bigint;
  /** Replaces the version's data (a fault publishing stale content). */
  readonly dataJson?: string;
}

/**
 * Writes the RPDE page as JSON text by hand, because `modified` values above 2^53 must reach the
 * wire as exact JSON integers, which JSON.stringify of a number cannot do and of a bigint refuses.
 */
export function pageJson(next: string, items: readonly PageItem[], license: string = CC_BY_4): string {
  const parts: string[] = [];
  for (const item of items) parts.push(itemJson(item));
  return `{"next":${JSON.stringify(next)},"items":[${parts.join(',')}],"license":${JSON.stringify(license)}}`;
}

function itemJson({ version, modified, dataJson }: PageItem): string {
  const head = `{"state":"${version.state}","kind":${JSON.stringify(version.kind)},"id":${JSON.stringify(version.id)},"modified":${modified.toString()}`;
  // The spec: `data` MUST NOT be included if the state is deleted.
  if (version.state === 'deleted') return `${head}}`;
  return `${head},"data":${dataJson ?? version.dataJson}}`;
}
