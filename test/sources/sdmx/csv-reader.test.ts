import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openSdmxCsv, SdmxCsvError, type SdmxCsvOptions, type SdmxCsvRow } from '../../../src/sources/sdmx/csv-reader.js';

const FIXTURES = new URL('../../fixtures/sdmx/', import.meta.url);

function fixture(name: string): Readable {
  return createReadStream(new URL(name, FIXTURES));
}

/** A file's end is known, as a body with a Content-Length is; several fixtures end without a line break. */
const FILE = { endVerified: true } as const;

function body(...chunks: string[]): Readable {
  return Readable.from(chunks.map((chunk) => Buffer.from(chunk)));
}

async function readAll(source: Readable, options?: SdmxCsvOptions) {
  const message = await openSdmxCsv(source, options);
  const rows: SdmxCsvRow[] = [];
  const batchSizes: number[] = [];
  for await (const batch of message.batches) {
    batchSizes.push(batch.length);
    rows.push(...batch);
  }
  return { header: message.header, rows, stats: message.stats, batchSizes };
}

/** A row as [line, action, cells by component id] for compact expectations. */
function brief(components: readonly string[], row: SdmxCsvRow): [number, string, Record<string, string | undefined>] {
  const cells: Record<string, string | undefined> = {};
  components.forEach((id, k) => {
    cells[id] = row.cells[k];
  });
  return [row.line, row.action, cells];
}

const TEST_DELETE = { type: 'dataflow', agency: 'OECD', id: 'DF_TEST_DELETE', version: '1.0' };
const TEST_DELETE_COMPONENTS = ['DIM_1', 'DIM_2', 'TIME_PERIOD', 'OBS_VALUE', 'OBS_ATTR', 'TS_ATTR', 'GR_ATTR', 'DF_ATTR'];

describe('SDMX-CSV reader on the shared fixtures', () => {
  it('reads the .Stat base data (SDMX-CSV 1.0, DATAFLOW column, no ACTION) as 27 Merge rows', async () => {
    const { header, rows } = await readAll(fixture('OECD-DF_TEST_DELETE-1.0-all_data.csv'), FILE);
    expect(header).toMatchObject({ format: '1.0', delimiter: ',', hasActionColumn: false, labels: 'id' });
    expect(header.components).toEqual(TEST_DELETE_COMPONENTS);
    expect(rows).toHaveLength(27);
    expect(rows.every((row) => row.action === 'M')).toBe(true);
    expect(rows.every((row) => row.structure.id === 'DF_TEST_DELETE' && row.structure.version === '1.0')).toBe(true);
    expect(rows[0]).toEqual({ line: 2, structure: TEST_DELETE, action: 'M', cells: ['A', 'A', '2020', '1234', 'A', 'AA', 'A', 'DF'] });
    expect(rows[4]?.cells).toEqual(['A', 'B', '2021', '5432', 'B', 'AB', 'B', 'DF']);
    expect(rows[26]).toEqual({ line: 28, structure: TEST_DELETE, action: 'M', cells: ['C', 'C', '2022', '4367', 'C', 'CC', 'C', 'DF'] });
    // Each series (DIM_1, DIM_2) has 2020..2022, and TS_ATTR is the two dimension codes joined.
    for (const row of rows) expect(row.cells[5]).toBe(`${row.cells[0]}${row.cells[1]}`);
  });

  it.each([
    ['case_1__delete_whole_content_of_the_dataflow', [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]],
    ['case_6-2__delete_everything_related_to_DIM_2_B_way2', [undefined, 'B', undefined, '*', '*', '*', '*', undefined]],
    ['case_11__delete_the_attributes_attached_to_time_series_DIM_1_A_DIM_2_B', ['A', 'B', undefined, undefined, undefined, '*', undefined, undefined]],
    [
      'case_14__delete_observation_value_attached_to_key_DIM_1_A_DIM_2_B_TIME_PERIOD_2021',
      ['A', 'B', '2021', '*', undefined, undefined, undefined, undefined],
    ],
  ])('reads the .Stat delete %s as one D row with omitted cells kept apart', async (name, cells) => {
    const { header, rows } = await readAll(fixture(`OECD-DF_TEST_DELETE-1.0-${name}.csv`), FILE);
    expect(header).toMatchObject({ format: '2.x', hasActionColumn: true });
    expect(header.components).toEqual(TEST_DELETE_COMPONENTS);
    expect(rows).toEqual([{ line: 2, structure: TEST_DELETE, action: 'D', cells }]);
  });

  it('reads the labels=name layout, skipping STRUCTURE_NAME and every localised-name column', async () => {
    const { header, rows } = await readAll(fixture('csv_labels_name.csv'), FILE);
    expect(header.labels).toBe('name');
    expect(header.components).toEqual(['DIM1', 'DIM2', 'ATT1', 'ATT2', 'OBS_VALUE', 'TIME_PERIOD']);
    expect(header.ignoredColumns).toContain('DIMENSION 1');
    expect(rows).toEqual([
      {
        line: 2,
        structure: { type: 'datastructure', agency: 'MD', id: 'MD_TEST', version: '1.0' },
        action: 'M',
        cells: ['A', 'B', 'C', 'D', '1', '2020'],
      },
    ]);
  });

  it('keeps NaN and the #NA marker as values, and reads I as Merge', async () => {
    const { header, rows } = await readAll(fixture('csv_nulls_20.csv'), FILE);
    expect(header.components).toEqual(['A']);
    expect(rows.map((row) => [row.line, row.action, row.cells[0]])).toEqual([
      [2, 'M', 'NaN'],
      [3, 'M', '1'],
      [4, 'M', '#NA'],
      [5, 'M', '#NA'],
    ]);
  });

  it('refuses the BIS sample, whose rows are one cell short of its header: a short row could be a cut one', async () => {
    // The sample (copied as published) has 13 dimension values before the year, not 14.
    await expect(readAll(fixture('data_v2_action_col.csv'), FILE)).rejects.toThrow(
      'SDMX-CSV: line 2 (BIS:BIS_DER(1.0)): the row has 22 cells but the header has 23',
    );
  });

  it('reads rows of three structure types with their own column subsets (example 9-B)', async () => {
    const { header, rows } = await readAll(fixture('data_v2_structures.csv'), FILE);
    const cells = rows.map((row) => brief(header.components, row));
    expect(rows.map((row) => row.structure)).toEqual([
      { type: 'dataflow', agency: 'ESTAT', id: 'DF_A', version: '1.6.0' },
      { type: 'datastructure', agency: 'ESTAT', id: 'DSD_B', version: '1.7.0' },
      { type: 'dataprovision', agency: 'ESTAT', id: 'DPA_C', version: '1.8.0' },
    ]);
    expect(cells[0]).toEqual([
      2,
      'M',
      {
        DIM_A1B1: 'DIMVAL_A1B1',
        DIM_A2: 'DIMVAL_A2',
        DIM_A3C2: 'DIMVAL_A3C2',
        DIM_B2: undefined,
        DIM_C1: undefined,
        DIM_C3: undefined,
        MEAS_A1B1C1: 'MEASVAL_A1B1C1',
        MEAS_C2: undefined,
        ATTR_A1: 'ATTRVAL_A1',
        ATTR_B1: undefined,
      },
    ]);
    expect(cells[1]?.[2]).toMatchObject({ DIM_A1B1: 'DIMVAL_A1B1', DIM_A2: undefined, DIM_B2: 'DIMVAL_B2', ATTR_B1: 'ATTRVAL_B1' });
    expect(cells[2]?.[2]).toMatchObject({ DIM_A1B1: undefined, DIM_C1: 'DIMVAL_C1', MEAS_C2: 'MEAS_C2', ATTR_B1: undefined });
  });

  it('reads D, R, R, I in file order, the D row fully omitted, the last line without a line break', async () => {
    const { rows } = await readAll(fixture('data_v2_three_actions.csv'), FILE);
    expect(rows.map((row) => [row.line, row.action, row.cells])).toEqual([
      [2, 'D', [undefined, undefined, undefined]],
      [3, 'R', ['A', 'A', '6']],
      [4, 'R', ['A', 'B', '1']],
      [5, 'M', ['A', 'C', '2']],
    ]);
  });

  it('reads a partial-key attribute row next to observation rows', async () => {
    const { header, rows } = await readAll(fixture('reference_partial_keys.csv'), FILE);
    expect(header.components).toEqual(['DIM1', 'DIM2', 'TIME_PERIOD', 'OBS_VALUE', 'ATT1', 'ATT2']);
    expect(rows.map((row) => row.cells)).toEqual([
      ['A', 'B', undefined, undefined, 'C', undefined],
      ['A', 'B', '2020', '1', undefined, 'D'],
      ['A', 'B', '2021', '2', undefined, 'E'],
    ]);
  });

  it.each(['bis_der.json', 'dsd_attrs_rels.json', 'constructed-sample.json', 'exr-action-delete.json'])(
    'refuses %s (SDMX-JSON, not SDMX-CSV) with a clear error',
    async (name) => {
      await expect(openSdmxCsv(fixture(name), { label: 'dataflow X:Y(1.0)' })).rejects.toThrow(
        /dataflow X:Y\(1\.0\): the response is not SDMX-CSV: its first header cell should be STRUCTURE or DATAFLOW, it starts with "\{/,
      );
    },
  );
});

describe('SDMX-CSV reader edge cases', () => {
  const HEAD = 'STRUCTURE,STRUCTURE_ID,ACTION,DIM,TIME_PERIOD,OBS_VALUE,ATTR\n';

  it('tells a quoted empty cell (a present empty string) from an unquoted empty one (omitted)', async () => {
    const { rows } = await readAll(
      body(HEAD, 'dataflow,A:F(1.0),R,X,2020,"",\n', 'dataflow,A:F(1.0),R,X,2021,,""\n', 'dataflow,A:F(1.0),R,"X","2022","1",""\n'),
    );
    expect(rows.map((row) => row.cells)).toEqual([
      ['X', '2020', '', undefined],
      ['X', '2021', undefined, ''],
      ['X', '2022', '1', ''],
    ]);
  });

  it('keeps doubled quotes, embedded delimiters and line breaks, and counts lines across them', async () => {
    const { rows } = await readAll(
      body(HEAD, 'dataflow,A:F(1.0),M,X,2020,1,"say ""hi"", then\nleave"\n', 'dataflow,A:F(1.0),M,X,2021,2,""""\n'),
    );
    expect(rows.map((row) => [row.line, row.cells[3]])).toEqual([
      [2, 'say "hi", then\nleave'],
      [4, '"'],
    ]);
  });

  it('detects the semicolon delimiter from the first header cell and keeps a decimal comma as text', async () => {
    const { header, rows } = await readAll(body('STRUCTURE;STRUCTURE_ID;ACTION;DIM;OBS_VALUE\r\n', 'dataflow;A:F(1.0);R;X;1,5\r\n'));
    expect(header.delimiter).toBe(';');
    expect(rows[0]?.cells).toEqual(['X', '1,5']);
  });

  it('reads a fr-FR style message (sdmx-csv example 4): ";" between cells, decimal commas, quoted ";" and quoted empty cells under that delimiter', async () => {
    const { header, rows } = await readAll(
      body(
        'STRUCTURE;STRUCTURE_ID;ACTION;DIM;TIME_PERIOD;OBS_VALUE;ATTR\n',
        'dataflow;A:F(1.0);R;X;2020;1234,56;"note; with a semicolon"\n',
        'dataflow;A:F(1.0);R;X;2021;-0,5;""\n',
        'dataflow;A:F(1.0);R;X;2022;"7,25";\n',
      ),
    );
    expect(header).toMatchObject({ delimiter: ';', components: ['DIM', 'TIME_PERIOD', 'OBS_VALUE', 'ATTR'] });
    expect(rows.map((row) => row.cells)).toEqual([
      ['X', '2020', '1234,56', 'note; with a semicolon'],
      ['X', '2021', '-0,5', ''],
      ['X', '2022', '7,25', undefined],
    ]);
  });

  it('keeps .Stat\'s backslash-escaped quotes inside a quoted multilingual metadata value verbatim', async () => {
    // DSS ref-metadata: doubled quotes inside JSON-like localised values get a backslash in front.
    const raw = '"en: ""<a href=\\""mailto:stat@example.org\\"">Contact</a>"",fr: ""<a href=\\""mailto:stat@example.org\\"">Contact</a>"""';
    const { rows } = await readAll(body('STRUCTURE,STRUCTURE_ID,ACTION,DIM,CONTACT[en;fr],NOTE\n', `dataflow,A:F(1.0),R,~,${raw},""\n`));
    expect(rows[0]?.cells).toEqual([
      '~',
      'en: "<a href=\\"mailto:stat@example.org\\">Contact</a>",fr: "<a href=\\"mailto:stat@example.org\\">Contact</a>"',
      '',
    ]);
  });

  it('reads the sub-field separator of STRUCTURE[;] and keeps multi-valued cells as text under the bare id', async () => {
    const { header, rows } = await readAll(
      body('STRUCTURE[;],STRUCTURE_ID,ACTION,DIM,ATTR4[],ATTR2[en;fr]\n', 'dataflow,A:F(1.0),M,X,Value X;Value Y,en:Value;fr:Valeur\n'),
    );
    expect(header).toMatchObject({ subFieldSeparator: ';', delimiter: ',', components: ['DIM', 'ATTR4', 'ATTR2'] });
    expect(rows[0]?.cells).toEqual(['X', 'Value X;Value Y', 'en:Value;fr:Valeur']);
  });

  it('maps labels=both headers by the id before ": " and reads the structure id before its name', async () => {
    const { header, rows } = await readAll(
      body(
        'STRUCTURE,STRUCTURE_ID,ACTION,DIM1: Dimension 1,OBS_VALUE: Observation value\n',
        'dataflow,ESTAT:NA_MAIN(1.6.0): National Accounts: Main,M,A,3\n',
      ),
    );
    expect(header).toMatchObject({ labels: 'both', components: ['DIM1', 'OBS_VALUE'] });
    expect(rows[0]?.structure).toEqual({ type: 'dataflow', agency: 'ESTAT', id: 'NA_MAIN', version: '1.6.0' });
  });

  it('accepts an upper-case structure type, a non-versioned id, a BOM and a header split across chunks', async () => {
    const { header, rows } = await readAll(body('\uFEFFSTRU', 'CTURE,STRUCTURE_ID,ACTION,DIM\nDATAFLOW,AG:FLOW,D,Y\n'));
    expect(header.components).toEqual(['DIM']);
    expect(rows).toEqual([{ line: 2, structure: { type: 'dataflow', agency: 'AG', id: 'FLOW', version: undefined }, action: 'D', cells: ['Y'] }]);
  });

  it('reads rows as Merge when the ACTION column is absent and ignores key and custom columns', async () => {
    const { header, rows } = await readAll(
      body('STRUCTURE,STRUCTURE_ID,SERIES_KEY,OBS_KEY,DIM,OBS_VALUE,VALID_FROM\n', 'dataflow,A:F(1.0),X,X.1,X,7,2023-01-01\n'),
      { knownComponents: new Set(['DIM', 'OBS_VALUE']) },
    );
    expect(header).toMatchObject({ hasActionColumn: false, components: ['DIM', 'OBS_VALUE'], unknownColumns: ['VALID_FROM'] });
    expect(header.ignoredColumns).toEqual(['SERIES_KEY', 'OBS_KEY', 'VALID_FROM']);
    expect(rows.map((row) => [row.action, row.cells])).toEqual([['M', ['X', '7']]]);
  });

  it('tolerates empty cells past the last column, and counts them', async () => {
    const { rows, stats } = await readAll(body(HEAD, 'dataflow,A:F(1.0),M,X,2020,1,,,\n', 'dataflow,A:F(1.0),M,X,2021,,\n'));
    expect(rows.map((row) => row.cells)).toEqual([
      ['X', '2020', '1', undefined],
      ['X', '2021', undefined, undefined],
    ]);
    expect(stats).toEqual({ rows: 2, trailingEmptyCells: 1 });
  });

  it('fails on a row with fewer cells than the header, naming the line and the dataflow, rather than reading the missing cells as omitted', async () => {
    await expect(readAll(body(HEAD, 'dataflow,A:F(1.0),M,X,2020,1,\n', 'dataflow,A:F(1.0),R,X,2021\n'), { label: 'stream s1' })).rejects.toThrow(
      'stream s1: line 3 (A:F(1.0)): the row has 5 cells but the header has 7',
    );
  });

  it('refuses a body whose end is not verified and whose last line has no line break, naming the line: it was cut', async () => {
    const cut = body(HEAD, 'dataflow,A:F(1.0),M,X,2020,1,\n', 'dataflow,A:F(1.0),R,X,2021,1,');
    const failure = readAll(cut, { label: 'stream s1' });
    await expect(failure).rejects.toThrow(SdmxCsvError);
    await expect(failure).rejects.toThrow('stream s1: line 3: the answer ends inside this line (no line break after it) and its length was not announced: it was cut short');
    // A header cut before its line break is refused the same way.
    await expect(readAll(body('STRUCTURE,STRUCTURE_ID,ACTION,DIM'), { label: 'df' })).rejects.toThrow('df: line 1: the answer ends inside this line');
  });

  it('reads a last line without a line break when the end of the body is verified (Content-Length, chunked, gzip)', async () => {
    const { rows } = await readAll(body(HEAD, 'dataflow,A:F(1.0),R,X,2021,1,'), { endVerified: true });
    expect(rows.map((row) => [row.line, row.cells])).toEqual([[2, ['X', '2021', '1', undefined]]]);
  });

  it('fails on a row with too many cells, naming the line and the dataflow', async () => {
    await expect(readAll(body(HEAD, 'dataflow,A:F(1.0),M,X,2020,1,,\n', 'dataflow,A:F(1.0),M,X,2021,1,a,b\n'), { label: 'stream s1' })).rejects.toThrow(
      'stream s1: line 3 (A:F(1.0)): the row has 8 cells but the header has 7',
    );
  });

  it('fails on an unknown action, naming the line and the dataflow', async () => {
    const failure = readAll(body(HEAD, 'dataflow,A:F(1.0),M,X,2020,1,\n', 'dataflow,A:F(1.0),X,X,2021,1,\n'), { label: 'stream s1' });
    await expect(failure).rejects.toThrow(SdmxCsvError);
    await expect(failure).rejects.toThrow('stream s1: line 3 (dataflow A:F(1.0)): unknown action "X" (expected I, A, M, R or D)');
  });

  it('fails on a malformed structure id and on an unknown structure type', async () => {
    await expect(readAll(body(HEAD, 'dataflow,not-a-ref,M,X,2020,1,\n'))).rejects.toThrow(
      'line 2: structure id "not-a-ref" is not AGENCY:ID(VERSION)',
    );
    await expect(readAll(body(HEAD, 'cube,A:F(1.0),M,X,2020,1,\n'))).rejects.toThrow('line 2: unknown structure type "cube"');
  });

  it('refuses an HTML page and an empty body', async () => {
    await expect(openSdmxCsv(body('<!DOCTYPE html><html><body>Login</body></html>'), { label: 'df' })).rejects.toThrow(
      'df: the response is not SDMX-CSV',
    );
    await expect(openSdmxCsv(body(), { label: 'df' })).rejects.toThrow('df: the response body is empty');
  });

  it('fails when the body ends inside a quoted cell', async () => {
    await expect(readAll(body(HEAD, 'dataflow,A:F(1.0),M,X,2020,1,"unfinished'), { label: 'df', endVerified: true })).rejects.toThrow(/df: malformed CSV/);
  });

  it('passes on an error of the body stream after some rows', async () => {
    function* broken() {
      yield Buffer.from(HEAD + 'dataflow,A:F(1.0),M,X,2020,1,\n');
      throw new Error('socket hang up');
    }
    await expect(readAll(Readable.from(broken()))).rejects.toThrow('socket hang up');
  });

  it('yields rows in order in batches of at most batchSize', async () => {
    const lines = Array.from({ length: 25 }, (_, i) => `dataflow,A:F(1.0),M,X,${2000 + i},${i},\n`);
    const { rows, batchSizes } = await readAll(body(HEAD, ...lines), { batchSize: 10 });
    expect(rows.map((row) => row.cells[1])).toEqual(Array.from({ length: 25 }, (_, i) => String(2000 + i)));
    expect(rows.map((row) => row.line)).toEqual(Array.from({ length: 25 }, (_, i) => i + 2));
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(10);
  });

  it('refuses a header that names a component twice', async () => {
    await expect(openSdmxCsv(body('STRUCTURE,STRUCTURE_ID,DIM,DIM\n'))).rejects.toThrow('line 1: the header names component DIM twice');
  });
});
