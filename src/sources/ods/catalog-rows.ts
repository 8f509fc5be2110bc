import { isRecord } from '../../core/json.js';
import type { SqlValue, TableSpec } from '../../core/tables.js';
import { defaultMeta, defaultText, type OdsDatasetObject, type OdsFileRef } from './dataset-object.js';
import { htmlToMarkdown } from './markdown.js';

/**
 * The catalog mirror's two tables. `{prefix}_datasets` has one row per dataset, keyed by its uid
 * (a renamed dataset_id is an update of the same row); `{prefix}_resources` has the files a
 * dataset offers: its exports, attachments and alternative exports.
 */
export function datasetsTable(prefix: string): TableSpec {
  return {
    name: `${prefix}_datasets`,
    columns: [
      { name: 'dataset_uid', type: 'text', nullable: false },
      { name: 'dataset_id', type: 'text', nullable: false },
      { name: 'title', type: 'text' },
      { name: 'description', type: 'text' },
      { name: 'tags', type: 'json' },
      { name: 'license', type: 'text' },
      { name: 'license_url', type: 'text' },
      { name: 'explore_url', type: 'text' },
      { name: 'reference', type: 'text' },
      { name: 'publisher', type: 'text' },
      { name: 'has_records', type: 'boolean' },
      { name: 'geo', type: 'boolean' },
      { name: 'modified', type: 'timestamp' },
      { name: 'data_processed', type: 'timestamp' },
      { name: 'metadata_processed', type: 'timestamp' },
      { name: 'records_count', type: 'integer' },
      { name: 'features', type: 'json' },
      { name: 'metas', type: 'json' },
      { name: 'state', type: 'text', nullable: false },
      { name: 'gone_at', type: 'timestamp' },
      { name: 'missing_since', type: 'integer' },
    ],
    primaryKey: ['dataset_uid'],
    indexes: [['dataset_id']],
  };
}

export function resourcesTable(prefix: string): TableSpec {
  return {
    name: `${prefix}_resources`,
    columns: [
      { name: 'dataset_uid', type: 'text', nullable: false },
      { name: 'resource_id', type: 'text', nullable: false },
      { name: 'kind', type: 'text', nullable: false },
      { name: 'title', type: 'text' },
      { name: 'format', type: 'text' },
      { name: 'mimetype', type: 'text' },
      { name: 'url', type: 'text', nullable: false },
      { name: 'description', type: 'text' },
    ],
    primaryKey: ['dataset_uid', 'resource_id'],
  };
}

/** A listing stages every column: a dataset listed is present, so its absence bookkeeping is cleared too. */
export const DATASET_COLUMNS = datasetsTable('x').columns.map((column) => column.name);
export const RESOURCE_COLUMNS = resourcesTable('x').columns.map((column) => column.name);

/** Shapefile exports of more records than this are partial on portals, so they are not offered. */
export const SHAPEFILE_RECORDS_LIMIT = 50_000;

/** The explore page of a dataset on its portal. */
export function exploreUrl(portal: string, datasetId: string): string {
  return `${portal}/explore/dataset/${encodeURIComponent(datasetId)}/`;
}

/**
 * A dataset's row, in the order of datasetsTable's columns: title, description as Markdown, tags
 * (keywords then themes, each kept whole: theme names contain commas), licence, publisher,
 * the processing dates, the raw metas. A dataset listed is present: any earlier absence is over.
 */
export function datasetRow(dataset: OdsDatasetObject, portal: string): SqlValue[] {
  const description = defaultText(dataset, 'description');
  const recordsCount = defaultMeta(dataset, 'records_count');
  return [
    dataset.datasetUid as string,
    dataset.datasetId,
    defaultText(dataset, 'title') ?? null,
    description === undefined ? null : htmlToMarkdown(description),
    JSON.stringify(tagsOf(dataset)),
    defaultText(dataset, 'license') ?? null,
    defaultText(dataset, 'license_url') ?? null,
    exploreUrl(portal, dataset.datasetId),
    defaultText(dataset, 'references') ?? null,
    defaultText(dataset, 'publisher') ?? null,
    dataset.hasRecords,
    dataset.features.includes('geo'),
    defaultText(dataset, 'modified') ?? null,
    defaultText(dataset, 'data_processed') ?? null,
    defaultText(dataset, 'metadata_processed') ?? null,
    typeof recordsCount === 'number' && Number.isInteger(recordsCount) ? recordsCount : null,
    JSON.stringify(dataset.features),
    JSON.stringify(dataset.metas),
    'present',
    null,
    null,
  ];
}

/** Keywords then themes, in the portal's order, each once. A scalar (older portals) is one tag. */
export function tagsOf(dataset: OdsDatasetObject): string[] {
  const tags: string[] = [];
  for (const name of ['keyword', 'theme']) {
    const value = defaultMeta(dataset, name);
    for (const tag of Array.isArray(value) ? value : [value]) {
      if (typeof tag === 'string' && tag.trim() !== '' && !tags.includes(tag.trim())) tags.push(tag.trim());
    }
  }
  return tags;
}

/**
 * Whether the dataset carries an INSPIRE record: a non-empty `inspire` template. Most portals send
 * it empty or null, which does not count.
 */
export function hasInspireRecord(dataset: OdsDatasetObject): boolean {
  const inspire = dataset.metas['inspire'];
  return isRecord(inspire) && Object.values(inspire).some((value) => value !== null && value !== '' && !(Array.isArray(value) && value.length === 0));
}

/** Nothing to offer: no records, no attachments, no alternative exports. */
export function hasNoData(dataset: OdsDatasetObject): boolean {
  return !dataset.hasRecords && dataset.attachments.length === 0 && dataset.alternativeExports.length === 0;
}

const EXPORTS: Record<string, { readonly title: string; readonly mimetype: string }> = {
  csv: { title: 'CSV export', mimetype: 'text/csv' },
  json: { title: 'JSON export', mimetype: 'application/json' },
  geojson: { title: 'GeoJSON export', mimetype: 'application/geo+json' },
  shp: { title: 'Shapefile export', mimetype: 'application/zip' },
};

/**
 * The rows of the resources table for one dataset: CSV and JSON exports when it has records,
 * GeoJSON and Shapefile (up to 50,000 records) when it is geographic, then its alternative
 * exports and attachments, whose `odsfile://` URLs become downloadable ones on the portal.
 */
export function resourceRows(dataset: OdsDatasetObject, portal: string): SqlValue[][] {
  const uid = dataset.datasetUid as string;
  const id = encodeURIComponent(dataset.datasetId);
  const rows: SqlValue[][] = [];
  if (dataset.hasRecords) {
    const geo = dataset.features.includes('geo');
    const count = defaultMeta(dataset, 'records_count');
    const formats = ['csv', 'json', ...(geo ? ['geojson'] : []), ...(geo && typeof count === 'number' && count <= SHAPEFILE_RECORDS_LIMIT ? ['shp'] : [])];
    for (const format of formats) {
      const { title, mimetype } = EXPORTS[format] as { title: string; mimetype: string };
      rows.push([uid, `export:${format}`, 'export', title, format, mimetype, `${portal}/api/explore/v2.1/catalog/datasets/${id}/exports/${format}`, null]);
    }
  }
  const fileRow = (kind: 'alternative_export' | 'attachment', path: string) => (file: OdsFileRef): SqlValue[] => {
    const url = file.url === undefined || file.url.startsWith('odsfile://') ? `${portal}/api/v2/catalog/datasets/${id}/${path}/${encodeURIComponent(file.id)}` : file.url;
    return [uid, `${kind}:${file.id}`, kind, file.title ?? null, formatOf(file), file.mimetype ?? null, url, file.description ?? null];
  };
  rows.push(...dataset.alternativeExports.map(fileRow('alternative_export', 'alternative_exports')));
  rows.push(...dataset.attachments.map(fileRow('attachment', 'attachments')));
  return rows;
}

const MIME_FORMATS: Record<string, string> = {
  'application/pdf': 'pdf',
  'application/zip': 'zip',
  'text/csv': 'csv',
  'application/json': 'json',
  'application/vnd.ms-excel': 'xls',
  'application/xls': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
};

/** The file's format: from the extension of its title or URL, else its MIME type. */
function formatOf(file: OdsFileRef): string | null {
  for (const name of [file.title, file.url]) {
    const match = name === undefined ? null : /\.([A-Za-z0-9]{1,8})$/.exec(name);
    if (match) return (match[1] as string).toLowerCase();
  }
  return file.mimetype === undefined ? null : (MIME_FORMATS[file.mimetype.toLowerCase()] ?? null);
}
