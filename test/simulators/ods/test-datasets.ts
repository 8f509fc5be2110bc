import type { DatasetDefinition, RecordValues } from '../../../src/simulators/ods/portal-data.js';

/** A small file-sourced dataset with one field of each kind a mirror types differently. */
export function treesDataset(count: number, id = 'public-trees'): DatasetDefinition {
  return {
    id,
    fields: [
      { name: 'asset_id', type: 'int', label: 'Asset ID', annotations: {} },
      { name: 'common_name', type: 'text', label: 'Common name', annotations: { facet: true, sortable: true } },
      { name: 'height_m', type: 'double', label: 'height_(m)' },
      { name: 'evergreen', type: 'boolean' },
      { name: 'date_planted', type: 'date', annotations: { facet: true, facetsort: '-alphanum', timerangeFilter: true } },
      { name: 'inspected_at', type: 'datetime' },
      { name: 'geo_point_2d', type: 'geo_point_2d' },
      { name: 'tags', type: 'text', annotations: { multivalued: ',' } },
    ],
    records: Array.from({ length: count }, (_, index) => treeRecord(index)),
    metas: {
      default: {
        title: 'Public trees',
        description: '<p>Trees on <strong>boulevards</strong> and in parks.</p><ul><li>Street trees</li><li>Park trees</li></ul>',
        theme: ['Parks, recreation, and pets', 'Environment'],
        keyword: ['trees', 'canopy'],
        publisher: 'City of Example',
        license: 'Open Government Licence - Example',
        license_url: 'https://example.org/licence/',
        references: 'https://example.org/trees',
      },
      custom: { 'data-owner': ['City of Example'] },
    },
  };
}

export function treeRecord(index: number, revision = 0): RecordValues {
  return {
    asset_id: index,
    common_name: `tree ${index}${revision > 0 ? ` rev ${revision}` : ''}`,
    height_m: (index % 300) / 10,
    evergreen: index % 3 === 0,
    date_planted: `20${String(10 + (index % 15)).padStart(2, '0')}-0${1 + (index % 9)}-1${index % 10}`,
    inspected_at: index % 5 === 0 ? null : `2026-0${1 + (index % 9)}-0${1 + (index % 9)}T1${index % 10}:00:00+00:00`,
    geo_point_2d: { lon: -123 + index / 1e6, lat: 49 + index / 1e6 },
    tags: index % 4 === 0 ? [] : ['street', `block-${index % 7}`],
  };
}
