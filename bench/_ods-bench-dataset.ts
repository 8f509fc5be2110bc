import type { DatasetDefinition, RecordValues } from '../src/simulators/ods/portal-data.js';

/** The dataset of the ODS benchmarks, shared by the portal process and the client. */
export const BENCH_DATASET = 'bench-trees';

/** A record with one field of each type a mirror writes differently. */
export function benchRecord(index: number, revision = 0): RecordValues {
  return {
    asset_id: index,
    common_name: `tree ${index}${revision > 0 ? ` rev ${revision}` : ''}`,
    genus_name: ['ACER', 'PRUNUS', 'QUERCUS', 'TILIA'][index % 4] as string,
    height_m: (index % 300) / 10,
    diameter_cm: (index % 900) / 10,
    evergreen: index % 3 === 0,
    date_planted: `20${String(10 + (index % 15)).padStart(2, '0')}-0${1 + (index % 9)}-1${index % 10}`,
    geo_point_2d: { lon: -123 + index / 1e6, lat: 49 + index / 1e6 },
  };
}

export function benchDataset(records: number): DatasetDefinition {
  return {
    id: BENCH_DATASET,
    fields: [
      { name: 'asset_id', type: 'int' },
      { name: 'common_name', type: 'text' },
      { name: 'genus_name', type: 'text' },
      { name: 'height_m', type: 'double' },
      { name: 'diameter_cm', type: 'double' },
      { name: 'evergreen', type: 'boolean' },
      { name: 'date_planted', type: 'date' },
      { name: 'geo_point_2d', type: 'geo_point_2d' },
    ],
    records: Array.from({ length: records }, (_, index) => benchRecord(index)),
  };
}
