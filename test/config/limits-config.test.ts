import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { parseSize, resolveLimits, DEFAULT_LIMITS, type GivenLimits } from '../../src/core/limits.js';
import { defineSourceKind } from '../../src/core/source-kind.js';
import { expandJob } from '../../src/daemon/streams.js';
import { memoryLogger } from '../helpers/silent-log.js';

/** A kind that keeps the limits its jobs are expanded with. */
function capturingKind(seen: (GivenLimits | undefined)[]) {
  return defineSourceKind({
    kind: 'cap',
    options: z.strictObject({}),
    tables: () => [],
    expand: (_job, _options, ctx) => {
      seen.push(ctx.limits);
      return Promise.resolve([]);
    },
  });
}

describe('limits in the config', () => {
  it('reads sizes with units, and a job\'s own limits override defaults.limits key by key', async () => {
    const seen: (GivenLimits | undefined)[] = [];
    const kind = capturingKind(seen);
    const { config } = parseConfig(
      JSON.stringify({
        defaults: { limits: { responseBytes: '2GiB', lineBytes: '1MB', itemsPerPage: 1000 } },
        jobs: [
          { id: 'a', kind: 'cap' },
          { id: 'b', kind: 'cap', limits: { lineBytes: 4096, cellBytes: '64KiB' } },
        ],
      }),
      'sync.config.json',
      [kind],
    );
    for (const job of config.jobs) await expandJob(job, config, [kind], { http: { request: () => Promise.reject(new Error('no')) }, log: memoryLogger().log, signal: new AbortController().signal }, []);
    expect(seen).toEqual([
      { responseBytes: 2 * 2 ** 30, lineBytes: 1_000_000, itemsPerPage: 1000 },
      { responseBytes: 2 * 2 ** 30, lineBytes: 4096, cellBytes: 65_536, itemsPerPage: 1000 },
    ]);
    expect(resolveLimits(DEFAULT_LIMITS, seen[1])).toEqual({ ...DEFAULT_LIMITS, responseBytes: 2 * 2 ** 30, lineBytes: 4096, cellBytes: 65_536, itemsPerPage: 1000 });
  });

  it('refuses a size it cannot read, a count that is not a positive integer and an unknown key, with their paths', () => {
    const parse = () =>
      parseConfig(
        JSON.stringify({ defaults: { limits: { decodedBytes: '12 parsecs' } }, jobs: [{ id: 'a', kind: 'cap', limits: { rowsPerResponse: 0, linesBytes: 5 } }] }),
        'sync.config.json',
        [capturingKind([])],
      );
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(/defaults\.limits\.decodedBytes: expected a size such as 1048576, "512KiB", "64MiB" or "2GB"/);
    expect(parse).toThrow(/jobs\[0\]\.limits\.rowsPerResponse/);
    expect(parse).toThrow(/jobs\[0\]\.limits.*linesBytes/);
  });

  it('parses sizes: binary and decimal units, and nothing else', () => {
    expect([parseSize('512KiB'), parseSize('64MiB'), parseSize('2GB'), parseSize('1048576'), parseSize('1.5 KiB')]).toEqual([524_288, 67_108_864, 2e9, 1_048_576, 1536]);
    expect([parseSize('0'), parseSize('-1MB'), parseSize('10 MiBs'), parseSize('')]).toEqual([undefined, undefined, undefined, undefined]);
  });
});
