import sql from 'mssql';
import type { ColumnType, SqlValue, TableSpec } from '../../core/tables.js';
import type { Bound, DriverRow, RelationKind, SqlConnection } from '../sql/engine.js';
import { quoteMssql } from './mssql-dialect.js';

/** The driver type a bound value of a column type travels as. Text is nvarchar(max): any length, any key width. */
export function mssqlType(type: ColumnType): sql.ISqlType {
  switch (type) {
    case 'integer':
      return sql.BigInt();
    case 'real':
      return sql.Float();
    case 'boolean':
      return sql.Bit();
    case 'text':
    case 'json':
    case 'timestamp':
      return sql.NVarChar(sql.MAX);
  }
}

/** A value as SQL Server should receive it for a column of this type (booleans elsewhere are 1/0, as SQLite stores them). */
export function toMssql(value: SqlValue, type: ColumnType): SqlValue {
  if (value === null) return null;
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean' ? value : Number(value) !== 0;
    case 'integer':
      return typeof value === 'boolean' ? (value ? 1 : 0) : value;
    case 'real':
      return typeof value === 'boolean' ? (value ? 1 : 0) : Number(value);
    default:
      return typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  }
}

/**
 * A pool (reads outside transactions) or one transaction, in one schema. A statement with
 * parameters goes as sp_executesql (@p1, @p2, ... typed by their columns); one without goes as a
 * plain batch, the only way a #temp table it creates outlives the statement.
 */
export class MssqlConnection implements SqlConnection {
  constructor(
    protected readonly owner: sql.ConnectionPool | sql.Transaction,
    /** The schema's plain name. */
    protected readonly schema: string,
  ) {}

  async run(text: string, params: readonly Bound[] = []): Promise<number> {
    const result = await this.execute(text, params);
    return result.rowsAffected.reduce((sum, count) => sum + count, 0);
  }

  async all(text: string, params: readonly Bound[] = []): Promise<DriverRow[]> {
    return ((await this.execute(text, params)).recordset ?? []);
  }

  async relationKind(name: string): Promise<RelationKind | undefined> {
    const rows = await this.all('SELECT RTRIM([type]) AS [type] FROM sys.objects WHERE [schema_id] = SCHEMA_ID(@p1) AND [name] = @p2', [
      { value: this.schema, type: 'text' },
      { value: name, type: 'text' },
    ]);
    const kind = rows[0]?.type;
    if (kind === undefined) return undefined;
    return kind === 'V' ? 'view' : 'table';
  }

  /** A spec reconstructed from SQL Server's catalog, for comparing with a table the store did not create. */
  async introspect(name: string): Promise<TableSpec> {
    const object = [{ value: `${quoteMssql(this.schema, 'schema name')}.${quoteMssql(name)}`, type: 'text' as const }];
    const columns = await this.all(
      `SELECT c.[name] AS [name], t.[name] AS [type], c.[is_nullable] AS [nullable] FROM sys.columns c
         JOIN sys.types t ON t.[user_type_id] = c.[user_type_id] WHERE c.[object_id] = OBJECT_ID(@p1) ORDER BY c.[column_id]`,
      object,
    );
    const key = await this.all(
      `SELECT c.[name] AS [name] FROM sys.indexes i
         JOIN sys.index_columns ic ON ic.[object_id] = i.[object_id] AND ic.[index_id] = i.[index_id]
         JOIN sys.columns c ON c.[object_id] = ic.[object_id] AND c.[column_id] = ic.[column_id]
        WHERE i.[object_id] = OBJECT_ID(@p1) AND i.[is_primary_key] = 1 ORDER BY ic.[key_ordinal]`,
      object,
    );
    const primaryKey = key.map((row) => String(row.name));
    const typeOf = (declared: string): ColumnType => {
      if (/^(bigint|int|smallint|tinyint)$/.test(declared)) return 'integer';
      if (/^(float|real|decimal|numeric)$/.test(declared)) return 'real';
      if (declared === 'bit') return 'boolean';
      return 'text';
    };
    return {
      name,
      columns: columns.map((column) => ({
        name: String(column.name),
        type: typeOf(String(column.type)),
        ...(column.nullable === false && !primaryKey.includes(String(column.name)) ? { nullable: false } : {}),
      })),
      primaryKey,
    };
  }

  protected request(): sql.Request {
    return new sql.Request(this.owner as sql.Transaction);
  }

  protected async execute(text: string, params: readonly Bound[]): Promise<sql.IResult<DriverRow>> {
    const request = this.request();
    if (params.length === 0) return request.batch<DriverRow>(text);
    params.forEach((param, index) => request.input(`p${index + 1}`, mssqlType(param.type), toMssql(param.value, param.type)));
    return request.query<DriverRow>(text);
  }
}
