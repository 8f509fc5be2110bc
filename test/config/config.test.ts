import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { builtInKinds } from '../../src/sources/registry.js';
import { testKind } from '../helpers/test-source.js';

const kinds = [testKind({ units: 1 })];

function problemsOf(config: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(JSON.stringify(config), 'sync.config.json', kinds, env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('config validation', () => {
  it('accepts a minimal config and fills defaults', () => {
    const { config } = parseConfig(JSON.stringify({ jobs: [{ id: 'a', kind: 'test' }] }), 'f', kinds, {});
    expect(config.store).toEqual({ engine: 'sqlite', path: './data/sync.db' });
    expect(config.concurrency).toBe(4);
    expect(config.defaults.schedules).toEqual([{ every: '15m' }]);
    expect(config.jobs[0]).toMatchObject({ id: 'a', kind: 'test', enabled: true, streams: 1 });
  });

  it('reports an unknown key with its path, so typos are not silently ignored', () => {
    expect(problemsOf({ jobs: [{ id: 'a', kind: 'test', schedual: [] }] })).toEqual([
      'jobs[0]: unknown key "schedual" (a typo?)',
    ]);
    expect(problemsOf({ sotre: {}, jobs: [] })).toEqual(['(top level): unknown key "sotre" (a typo?)']);
  });

  it('names a typo inside a schedule as an unknown key, with the two shapes a schedule may take', () => {
    const expected = 'expected {"every": ...} or {"cron": ..., "tz"?: ...}';
    expect(problemsOf({ defaults: { schedules: [{ evry: '5m' }] }, jobs: [] })).toEqual([
      `defaults.schedules[0]: unknown key "evry"; ${expected}`,
    ]);
    expect(problemsOf({ jobs: [{ id: 'a', kind: 'test', schedules: [{ every: '1h' }, { crn: '0 * * * *', tz: 'UTC' }] }] })).toEqual([
      `jobs[0].schedules[1]: unknown key "crn"; ${expected}`,
    ]);
    expect(problemsOf({ defaults: { schedules: [{ every: '5m', cron: '0 * * * *' }] }, jobs: [] })).toEqual([
      `defaults.schedules[0]: "every" and "cron" cannot be combined; ${expected}`,
    ]);
    expect(problemsOf({ defaults: { schedules: [{ every: 300 }] }, jobs: [] })).toEqual([
      `defaults.schedules[0]: "every" must be a string; ${expected}`,
    ]);
    expect(problemsOf({ defaults: { schedules: ['5m'] }, jobs: [] })).toEqual([`defaults.schedules[0]: ${expected}`]);
  });

  it('reports every problem, one line each, naming the path', () => {
    const problems = problemsOf({
      concurrency: 0,
      defaults: { alertAfter: 'soon' },
      jobs: [
        { id: 'Bad Id', kind: 'test' },
        { id: 'b', kind: 'test', schedules: [{ cron: 'not a cron' }] },
        { id: 'c', kind: 'test', schedules: [{ cron: '0 * * * *', tz: 'Mars/Olympus' }] },
        { id: 'd', kind: 'nope' },
      ],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^concurrency: /),
        expect.stringMatching(/^defaults\.alertAfter: expected a duration/),
        expect.stringMatching(/^jobs\[0\]\.id: expected lowercase/),
        expect.stringMatching(/^jobs\[1\]\.schedules\[0\]\.cron: not a valid cron expression/),
        expect.stringMatching(/^jobs\[2\]\.schedules\[0\]\.tz: unknown time zone "Mars\/Olympus"/),
        expect.stringMatching(/^jobs\[3\]\.kind: expected one of test$/),
      ]),
    );
    expect(problems).toHaveLength(6);
  });

  it('names the discriminator and its values when the store engine is missing or unknown (not the job kinds)', () => {
    expect(problemsOf({ store: { kind: 'sqlite' }, jobs: [] })).toEqual(['store.engine: expected one of sqlite, postgres, mssql']);
    expect(problemsOf({ store: { engine: 'mysql' }, jobs: [] })).toEqual(['store.engine: expected one of sqlite, postgres, mssql']);
  });

  it('rejects duplicate job ids', () => {
    expect(problemsOf({ jobs: [{ id: 'a', kind: 'test' }, { id: 'a', kind: 'test' }] })).toEqual([
      'jobs[1].id: duplicate job id "a" (also jobs[0])',
    ]);
  });

  it('substitutes ${ENV_VAR} in values and remembers them as secrets', () => {
    const { config, secrets } = parseConfig(
      JSON.stringify({ jobs: [{ id: 'a', kind: 'test', token: 'Bearer ${TOKEN}', streams: 2 }] }),
      'f',
      kinds,
      { TOKEN: 's3cr3t-value' },
    );
    expect(config.jobs[0]).toMatchObject({ token: 'Bearer s3cr3t-value' });
    expect(secrets).toEqual(['s3cr3t-value']);
  });

  it('names a missing environment variable and where it is used', () => {
    expect(problemsOf({ jobs: [{ id: 'a', kind: 'test', token: '${MISSING_TOKEN}' }] })).toEqual([
      'jobs[0].token: environment variable MISSING_TOKEN is not set',
    ]);
  });

  it('keeps $${NAME} as a literal ${NAME}', () => {
    const { config } = parseConfig(JSON.stringify({ jobs: [{ id: 'a', kind: 'test', token: '$${X}' }] }), 'f', kinds, {});
    expect(config.jobs[0]).toMatchObject({ token: '${X}' });
  });

  it("checks a kind's own cross-field rules, naming the job", () => {
    expect(() => parseConfig(JSON.stringify({ jobs: [{ id: 'feeds', kind: 'rpde' }] }), 'f', builtInKinds, {})).toThrow(
      /jobs\[0\]: an rpde job needs feeds, datasetSite or dataCatalog/,
    );
  });

  it('reports invalid JSON as one problem', () => {
    expect(() => parseConfig('{ "jobs": [ }', 'f', kinds, {})).toThrow(/not valid JSON/);
  });
});
