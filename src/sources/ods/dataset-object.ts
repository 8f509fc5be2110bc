import { isRecord, type JsonValue } from '../../core/json.js';
import { ExploreAnswerError } from './explore-errors.js';

/** One field of a dataset's schema, as `fields[]` describes it. */
export interface OdsFieldInfo {
  readonly name: string;
  /** `text`, `int`, `double`, `boolean`, `date`, `datetime`, `geo_point_2d`, `geo_shape`, `file`, `json_blob`... */
  readonly type: string;
  readonly label: string | undefined;
  /** Annotations with scalar values: portals send `{"facet": true}`, older examples `{"facet": []}`. */
  readonly annotations: Readonly<Record<string, JsonValue>>;
}

/** An attachment or alternative export as the dataset object lists it. */
export interface OdsFileRef {
  readonly id: string;
  readonly title: string | undefined;
  readonly mimetype: string | undefined;
  readonly url: string | undefined;
  readonly description: string | undefined;
}

/** The parts of an Explore API dataset object the mirror reads; `raw` keeps all of it. */
export interface OdsDatasetObject {
  readonly datasetId: string;
  /** Never changes in the dataset's life, unlike datasetId; absent only from answers that are not v2.1's. */
  readonly datasetUid: string | undefined;
  readonly hasRecords: boolean;
  readonly features: readonly string[];
  readonly fields: readonly OdsFieldInfo[];
  /** Metadata by template (`default`, `custom`, `dcat`, `inspire`...), as the portal sent them. */
  readonly metas: Readonly<Record<string, Readonly<Record<string, JsonValue>>>>;
  readonly attachments: readonly OdsFileRef[];
  readonly alternativeExports: readonly OdsFileRef[];
}

/**
 * Reads a dataset object (v2.1, or the `dataset` inside a v2.0 answer, which has the same keys).
 * Only `dataset_id` is required; anything else missing or of another type reads as absent, as the
 * API promises to add keys but never to remove them.
 */
export function readDatasetObject(value: JsonValue, subject: string): OdsDatasetObject {
  if (!isRecord(value) || typeof value['dataset_id'] !== 'string' || value['dataset_id'] === '') {
    throw new ExploreAnswerError(`${subject}: a dataset without a dataset_id: ${JSON.stringify(value).slice(0, 200)}`);
  }
  const metas: Record<string, Record<string, JsonValue>> = {};
  if (isRecord(value['metas'])) {
    for (const [template, values] of Object.entries(value['metas'])) if (isRecord(values)) metas[template] = values;
  }
  return {
    datasetId: value['dataset_id'],
    datasetUid: typeof value['dataset_uid'] === 'string' && value['dataset_uid'] !== '' ? value['dataset_uid'] : undefined,
    hasRecords: value['has_records'] === true,
    features: strings(value['features']),
    fields: (Array.isArray(value['fields']) ? value['fields'] : []).flatMap((field) => (isRecord(field) && typeof field['name'] === 'string' ? [readField(field)] : [])),
    metas,
    attachments: files(value['attachments']),
    alternativeExports: files(value['alternative_exports']),
  };
}

function readField(field: Record<string, unknown>): OdsFieldInfo {
  const annotations: Record<string, JsonValue> = {};
  if (isRecord(field['annotations'])) {
    for (const [name, annotation] of Object.entries(field['annotations'])) {
      // `[x]` and `x` say the same; an empty list (`"facet": []`) only says the annotation is there.
      const scalar: unknown = Array.isArray(annotation) ? (annotation.length === 0 ? true : (annotation[0] as unknown)) : annotation;
      annotations[name] = (scalar ?? null) as JsonValue;
    }
  }
  return {
    name: field['name'] as string,
    type: typeof field['type'] === 'string' ? field['type'] : 'text',
    label: typeof field['label'] === 'string' ? field['label'] : undefined,
    annotations,
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function files(value: unknown): OdsFileRef[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((file) => {
    if (!isRecord(file) || typeof file['id'] !== 'string') return [];
    const text = (name: string) => (typeof file[name] === 'string' ? file[name] : undefined);
    return [{ id: file['id'], title: text('title'), mimetype: text('mimetype'), url: text('url'), description: text('description') }];
  });
}

/** A value of the `default` template (title, data_processed, records_count...). */
export function defaultMeta(dataset: OdsDatasetObject, name: string): JsonValue | undefined {
  return dataset.metas['default']?.[name];
}

/** A `default` value that should be a string (kept as the portal wrote it, empty included). */
export function defaultText(dataset: OdsDatasetObject, name: string): string | undefined {
  const value = defaultMeta(dataset, name);
  return typeof value === 'string' ? value : undefined;
}
