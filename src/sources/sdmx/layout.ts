import type { ColumnSpec, TableSpec, ViewSpec } from '../../core/tables.js';
import { assertIdentifier, MAX_IDENTIFIER_LENGTH, TableLayoutError } from '../../core/identifiers.js';
import { formatArtefact, type DataStructure } from './structure.js';

/**
 * The tables that mirror one dataflow (docs/sdmx.md). Every value is kept as text, exactly as the
 * data space wrote it: `NaN`, `#N/A` and the decimal digits of a measure survive unchanged.
 */
export interface DataflowLayout {
  readonly prefix: string;
  /** `{p}_obs`: one row per observation, keyed by every dimension; measures and observation-level attributes. */
  readonly observations: LayoutTable;
  /** `{p}_attr_{level}`: one table per dimension set that attributes attach to above the observation. */
  readonly attributeTables: readonly LayoutTable[];
  /** `{p}_dataset_attr`: a single row of dataflow-level attributes, when the DSD has any. */
  readonly datasetAttributes: LayoutTable | undefined;
  /** `{p}_meta`: referential metadata keyed by every dimension, `''` where not attached. */
  readonly metadata: LayoutTable | undefined;
  /** `{p}`: observations with their series/group attributes joined in. */
  readonly view: ViewSpec;
}

export interface LayoutTable {
  readonly spec: TableSpec;
  /** The dimensions of the key (empty for the dataset table, whose key is a constant). */
  readonly dimensions: readonly string[];
  /** The components stored in the table, by component id. */
  readonly components: readonly string[];
  /** Component id → column name (the same except for dotted metadata ids). */
  readonly columnOf: ReadonlyMap<string, string>;
}

/** The constant key of the single-row dataset table. */
export const DATASET_KEY_COLUMN = 'dataset_row';
export const DATASET_KEY_VALUE = 1;

export interface LayoutOptions {
  /** Table prefix; derived from the dataflow id when absent. */
  readonly prefix?: string | undefined;
  /** Add the `{p}_meta` table (the dataflow's MSD attributes). */
  readonly metadata?: boolean;
}

export function planLayout(structure: DataStructure, options: LayoutOptions = {}): DataflowLayout {
  const owner = structure.dataflow ?? structure.dsd;
  const where = `dataflow ${formatArtefact(owner)}`;
  const prefix = options.prefix ?? derivePrefix(owner.id);
  assertIdentifier(prefix, `${where}: table prefix`);
  const component = (id: string): string => assertIdentifier(id, `${where}: component id`);

  const observationAttributes = structure.attributes.filter((attribute) => attribute.attachment.level === 'observation').map((a) => a.id);
  const observations = table(`${prefix}_obs`, structure.dimensions.map(component), [...structure.measures, ...observationAttributes].map(component), where);

  // One table per distinct dimension set; attributes sharing a set (e.g. a group and a
  // `dimensions` relationship naming the same dimensions) share its rows.
  const sets = new Map<string, { dimensions: readonly string[]; group: string | undefined; attributes: string[] }>();
  for (const attribute of structure.attributes) {
    const { attachment } = attribute;
    if (attachment.level !== 'dimensions') continue;
    const key = attachment.dimensions.join('\u0000');
    const set = sets.get(key) ?? { dimensions: attachment.dimensions, group: undefined, attributes: [] };
    set.group ??= attachment.group;
    set.attributes.push(component(attribute.id));
    sets.set(key, set);
  }
  const seriesDimensions = structure.dimensions.filter((id) => id !== structure.timeDimension);
  const usedNames = new Set<string>();
  const attributeTables = [...sets.values()].map((set, index) => {
    const level = levelName(set.dimensions, set.group, seriesDimensions, index, prefix);
    let name = `${prefix}_attr_${level}`;
    for (let n = 2; usedNames.has(name.toLowerCase()); n += 1) name = `${prefix}_attr_${level}_${n}`;
    usedNames.add(name.toLowerCase());
    return table(name, set.dimensions.map(component), set.attributes, where);
  });

  const datasetIds = structure.attributes.filter((attribute) => attribute.attachment.level === 'dataflow').map((a) => component(a.id));
  let datasetAttributes: LayoutTable | undefined;
  if (datasetIds.length > 0) {
    if (datasetIds.some((id) => id.toLowerCase() === DATASET_KEY_COLUMN)) {
      throw new TableLayoutError(`${where}: attribute ${DATASET_KEY_COLUMN} clashes with the dataset table's key column`);
    }
    const spec: TableSpec = {
      name: assertIdentifier(`${prefix}_dataset_attr`, `${where}: table name`),
      columns: [{ name: DATASET_KEY_COLUMN, type: 'integer', nullable: false }, ...datasetIds.map(textColumn)],
      primaryKey: [DATASET_KEY_COLUMN],
    };
    datasetAttributes = { spec, dimensions: [], components: datasetIds, columnOf: identity(datasetIds) };
  }

  let metadata: LayoutTable | undefined;
  if (options.metadata) {
    if (structure.metadataAttributes.length === 0) {
      throw new TableLayoutError(`${where}: metadata was asked for, but the data structure links no metadata structure with attributes`);
    }
    const columnOf = new Map<string, string>();
    const taken = new Set(structure.dimensions.map((id) => id.toLowerCase()));
    for (const id of structure.metadataAttributes) {
      // Nested metadata attributes are dotted (PARENT.CHILD); a dot cannot be part of an identifier.
      const column = assertIdentifier(id.replaceAll('.', '_'), `${where}: metadata attribute id`);
      if (taken.has(column.toLowerCase())) throw new TableLayoutError(`${where}: metadata attribute ${id} clashes with column ${column}`);
      taken.add(column.toLowerCase());
      columnOf.set(id, column);
    }
    const dimensions = structure.dimensions.map(component);
    const spec: TableSpec = {
      name: assertIdentifier(`${prefix}_meta`, `${where}: table name`),
      columns: [...dimensions.map(keyColumn), ...[...columnOf.values()].map(textColumn)],
      primaryKey: dimensions,
    };
    metadata = { spec, dimensions, components: [...structure.metadataAttributes], columnOf };
  }

  const view: ViewSpec = {
    name: prefix,
    from: observations.spec.name,
    leftJoins: [
      ...attributeTables.map((attributeTable) => ({ table: attributeTable.spec.name, using: attributeTable.dimensions })),
      // A single row: joined on nothing, its values appear on every observation.
      ...(datasetAttributes ? [{ table: datasetAttributes.spec.name, using: [] }] : []),
    ],
  };

  return { prefix, observations, attributeTables, datasetAttributes, metadata, view };
}

/** `DSD_G20_PRICES@DF_G20_PRICES` → `dsd_g20_prices_df_g20_prices`: lower case, other characters as `_`. */
export function derivePrefix(dataflowId: string): string {
  let prefix = dataflowId
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!/^[a-z]/.test(prefix)) prefix = `df_${prefix}`;
  // Leaves room for the longest suffix (`_dataset_attr`) within the identifier limit.
  return prefix.slice(0, MAX_IDENTIFIER_LENGTH - 24).replace(/_+$/, '');
}

function levelName(
  dimensions: readonly string[],
  group: string | undefined,
  series: readonly string[],
  index: number,
  prefix: string,
): string {
  let level: string;
  if (group !== undefined) level = group;
  else if (dimensions.length === series.length && dimensions.every((id, i) => id === series[i])) level = 'series';
  else level = dimensions.join('_');
  level = level.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  const fits = `${prefix}_attr_${level}_99`.length <= MAX_IDENTIFIER_LENGTH;
  return fits ? level : `set${index + 1}`;
}

function table(name: string, dimensions: readonly string[], values: readonly string[], where: string): LayoutTable {
  const spec: TableSpec = {
    name: assertIdentifier(name, `${where}: table name`),
    columns: [...dimensions.map(keyColumn), ...values.map(textColumn)],
    primaryKey: [...dimensions],
  };
  const folded = new Set<string>();
  for (const column of spec.columns) {
    const lower = column.name.toLowerCase();
    if (folded.has(lower)) throw new TableLayoutError(`${where}: table ${name} would have column ${column.name} twice (names are compared without case)`);
    folded.add(lower);
  }
  return { spec, dimensions, components: values, columnOf: identity(values) };
}

function keyColumn(name: string): ColumnSpec {
  return { name, type: 'text', nullable: false };
}

function textColumn(name: string): ColumnSpec {
  return { name, type: 'text' };
}

function identity(ids: readonly string[]): ReadonlyMap<string, string> {
  return new Map(ids.map((id) => [id, id]));
}
