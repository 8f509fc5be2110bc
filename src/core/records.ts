import type { Condition } from './tables.js';

/**
 * What a stream publishes as records, for delivery to another system (a push target): rows of one
 * of its relations (a table or a view the stream writes), identified by key columns. A kind of
 * source declares it; the store tracks which records changed and compares, in SQL, what the
 * relation holds with what was last delivered. Nothing here says where records go.
 */
export interface RecordView {
  /** The table or view whose rows are the records. */
  readonly relation: string;
  /**
   * Columns of the relation identifying a record; the changes a stream writes are tracked by them.
   * Default: the relation's primary key (a view's: its base table's), which may be known only once
   * the stream has made its tables.
   */
  readonly key?: readonly string[];
  /** The fields of a record, in order; default: every column of the relation. */
  readonly fields?: readonly RecordField[];
  /** Columns left out of the default fields (e.g. the source's own bookkeeping). */
  readonly omit?: readonly string[];
  /** Only rows matching every condition are records; another row is a record that does not exist (deleted). */
  readonly where?: readonly Condition[];
}

export interface RecordField {
  /** The field's name in the delivered record. */
  readonly name: string;
  /** The relation's column it is read from. */
  readonly column: string;
  /** Deliver a `json` column's document as its text rather than as a JSON value. */
  readonly asText?: boolean;
}
