import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { builtInKinds } from '../../src/sources/registry.js';
import { pushUrlParts, targetId } from '../../src/push/push-config.js';

const PUSH = 'https://portal.example/api/push/1.0/my-dataset/realtime/push/?pushkey=${ODS_PUSHKEY}';

function config(job: Record<string, unknown>): string {
  return JSON.stringify({ jobs: [{ id: 'feed', kind: 'rpde', feeds: ['https://publisher.example/feed'], ...job }] });
}

function problems(text: string, env: NodeJS.ProcessEnv = { ODS_PUSHKEY: 'k3y-secret' }): string[] {
  try {
    parseConfig(text, 'sync.config.json', builtInKinds, env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}

describe('push targets in the config', () => {
  it('accepts a push URL whose key comes from the environment, and treats the key as a secret', () => {
    const loaded = parseConfig(config({ push: [{ url: PUSH, uniqueId: ['id'] }] }), 'sync.config.json', builtInKinds, { ODS_PUSHKEY: 'k3y-secret' });
    expect(loaded.secrets).toContain('k3y-secret');
    const job = loaded.config.jobs[0];
    expect(job?.push?.[0]?.uniqueId).toEqual(['id']);
    expect(targetId('rpde:feed:feed', job?.push?.[0] ?? { url: '' })).toBe('rpde:feed:feed>my-dataset');
  });

  it('refuses a URL that is not a push URL with its key, naming the field', () => {
    expect(problems(config({ push: [{ url: 'https://portal.example/api/push/1.0/my-dataset/realtime/push/' }] }))[0]).toMatch(/^jobs\[0\]\.push\[0\]\.url: expected the push URL/);
    expect(problems(config({ push: [{ url: 'https://portal.example/explore/dataset/x/?pushkey=abc' }] }))[0]).toMatch(/push\[0\]\.url/);
  });

  it('refuses two targets of one job under the same name, and push on a kind without records', () => {
    expect(problems(config({ push: [{ url: PUSH }, { url: PUSH }] }))[0]).toMatch(/push\[1\]\.name: two push targets are named my-dataset/);
    const catalog = JSON.stringify({ jobs: [{ id: 'cat', kind: 'ods-catalog', portal: 'https://portal.example', push: [{ url: PUSH }] }] });
    expect(problems(catalog).join('\n')).toMatch(/unknown key "push"/);
  });

  it('reads the dataset and resource of a push URL', () => {
    expect(pushUrlParts('https://p.example/api/push/1.0/ds/realtime0/push/?pushkey=abcd')).toEqual({ origin: 'https://p.example', dataset: 'ds', resource: 'realtime0' });
    expect(pushUrlParts('https://p.example/api/push/1.0/ds/realtime0/delete/?pushkey=abcd')).toBeUndefined();
  });
});
