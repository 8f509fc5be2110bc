import type { JsonValue } from '../../core/json.js';
import { formatMicros, formatSeconds, type HostedDataset, type OdsFile } from './portal-data.js';

/** The dataset object of Explore API v2.1 (`/catalog/datasets/{id}` and each catalog result). */
export function datasetJson(dataset: HostedDataset): { [key: string]: JsonValue } {
  return {
    visibility: 'domain',
    dataset_id: dataset.id,
    dataset_uid: dataset.uid,
    has_records: dataset.records.size > 0,
    features: [...(dataset.features ?? derivedFeatures(dataset))],
    attachments: dataset.attachments.map(fileJson),
    alternative_exports: dataset.alternativeExports.map(fileJson),
    data_visible: true,
    fields: dataset.fields.map((field) => ({
      name: field.name,
      description: field.description ?? null,
      annotations: { ...(field.annotations ?? {}) },
      label: field.label ?? field.name,
      type: field.type,
    })),
    metas: metasJson(dataset),
  };
}

function derivedFeatures(dataset: HostedDataset): string[] {
  const types = new Set(dataset.fields.map((field) => field.type));
  return [
    'analyze',
    ...(types.has('date') || types.has('datetime') ? ['timeserie'] : []),
    ...(types.has('geo_point_2d') || types.has('geo_shape') ? ['geo'] : []),
  ];
}

function fileJson(file: OdsFile): { [key: string]: JsonValue } {
  return { id: file.id, title: file.title, mimetype: file.mimetype, url: file.url, ...(file.description === undefined ? {} : { description: file.description }) };
}

/**
 * The metas templates, `default` completed with what the portal computes. A dataset without
 * records has empty data_processed and records_count, as real catalogs show.
 */
function metasJson(dataset: HostedDataset): { [key: string]: JsonValue } {
  const given = dataset.metas['default'] ?? {};
  const hasData = dataset.dataProcessedMs !== undefined;
  const dataProcessed = hasData ? formatSeconds(dataset.dataProcessedMs as number) : null;
  const updatesOnData = given['modified_updates_on_data_change'] ?? true;
  const base: { [key: string]: JsonValue } = {
    title: dataset.id,
    description: null,
    theme: null,
    keyword: null,
    license: null,
    license_url: null,
    language: 'en',
    metadata_languages: ['en'],
    timezone: null,
    modified: updatesOnData === true ? dataProcessed ?? formatSeconds(dataset.metadataProcessedMs) : formatSeconds(dataset.metadataProcessedMs),
    modified_updates_on_metadata_change: false,
    modified_updates_on_data_change: updatesOnData,
    publisher: null,
    references: null,
    attributions: null,
    federated: false,
    parent_domain: null,
    source_domain: null,
    source_dataset: null,
    shared_catalog: null,
  };
  return {
    ...Object.fromEntries(Object.entries(dataset.metas).filter(([name]) => name !== 'default')),
    default: {
      ...base,
      ...given,
      data_processed: dataProcessed,
      metadata_processed: formatMicros(dataset.metadataProcessedMs),
      records_count: hasData ? dataset.records.size : null,
    },
  };
}
