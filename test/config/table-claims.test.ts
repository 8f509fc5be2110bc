import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { findTableClashes } from '../../src/core/table-claims.js';
import { builtInKinds } from '../../src/sources/registry.js';

function problemsOf(jobs: unknown[]): string[] {
  try {
    parseConfig(JSON.stringify({ jobs }), 'sync.config.json', builtInKinds, {});
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

const endpoint = 'https://nsi.example.org/rest';

describe('tables claimed by jobs of any kinds', () => {
  it('refuses an SDMX dataflow and an RPDE feed that would write the same table, naming both places', () => {
    expect(
      problemsOf([
        { id: 'stats', kind: 'sdmx', endpoint, dataflows: [{ ref: 'A:DF(1.0)', prefix: 'sessions_items' }] },
        { id: 'leisure', kind: 'rpde', feeds: ['https://e.com/feeds/other', { url: 'https://e.com/feeds/sessions', prefix: 'sessions' }] },
      ]),
    ).toEqual([
      'jobs[1].feeds[1]: feed https://e.com/feeds/sessions would write table sessions_items, which dataflow A:DF(1.0) of job stats (jobs[0].dataflows[0]) writes too; give one of them another table prefix',
    ]);
  });

  it('refuses a table inside the family an RPDE dataset site may fill, whichever job comes first', () => {
    const site = { id: 'leisure', kind: 'rpde', datasetSite: 'https://e.com/site' };
    const stats = { id: 'stats', kind: 'sdmx', endpoint, dataflows: [{ ref: 'A:DF(1.0)', prefix: 'leisure_x' }] };
    expect(problemsOf([site, stats])).toEqual([
      'jobs[1].dataflows[0]: dataflow A:DF(1.0) would write table leisure_x, which the feeds found at https://e.com/site of job leisure (jobs[0].datasetSite) may write too; give one of them another table prefix',
    ]);
    expect(problemsOf([stats, site])).toEqual([
      'jobs[1].datasetSite: the feeds found at https://e.com/site would write table leisure_x, which dataflow A:DF(1.0) of job stats (jobs[0].dataflows[0]) writes too; give one of them another table prefix',
    ]);
  });

  it('accepts jobs whose tables cannot meet, disabled jobs included in the check', () => {
    expect(
      problemsOf([
        { id: 'leisure', kind: 'rpde', datasetSite: 'https://e.com/site', feeds: [{ url: 'https://e.com/f', prefix: 'leisure_f' }] },
        { id: 'stats', kind: 'sdmx', endpoint, dataflows: ['A:DF(1.0)'], metadata: true },
        { id: 'other', kind: 'rpde', enabled: false, feeds: ['https://e.com/feeds/df'] },
      ]),
    ).toEqual([]);
    expect(problemsOf([{ id: 'a', kind: 'rpde', feeds: ['https://e.com/x'] }, { id: 'b', kind: 'rpde', enabled: false, feeds: [{ url: 'https://e.com/y', prefix: 'a_x' }] }])).toEqual([
      'jobs[1].feeds[0]: feed https://e.com/y would write table a_x_items, which feed https://e.com/x of job a (jobs[0].feeds[0]) writes too; give one of them another table prefix',
    ]);
  });

  it('compares names without case, and two families when one starts the other', () => {
    const clashes = findTableClashes([
      { id: 'a', claims: [{ name: 'Obs', path: ['x'], by: 'x' }, { name: 'fam_', family: true, path: ['f'], by: 'f' }] },
      { id: 'b', claims: [{ name: 'obs', path: ['y'], by: 'y' }, { name: 'FAM_sub_', family: true, path: ['g'], by: 'g' }, { name: 'other', path: ['z'], by: 'z' }] },
    ]);
    expect(clashes.map((clash) => [clash.job, clash.claim.by, clash.other.claim.by, clash.table])).toEqual([
      [1, 'y', 'x', 'obs'],
      [1, 'g', 'f', 'FAM_sub_*'],
    ]);
  });
});
