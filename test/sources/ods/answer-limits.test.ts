import { describe, expect, it } from 'vitest';
import type { GivenLimits } from '../../../src/core/limits.js';
import type { StreamSource } from '../../../src/core/source.js';
import { odsCatalogKind, odsCatalogOptions } from '../../../src/sources/ods/catalog-kind.js';
import { odsRecordsKind, odsRecordsOptions } from '../../../src/sources/ods/records-kind.js';
import { treesDataset } from '../../simulators/ods/test-datasets.js';
import { portalTestbed } from './portal-testbed.js';

const raise = (key: string): string => `If the remote is right, raise "limits": {"${key}": ...} in the job or in defaults.limits`;

describe('ODS answers past a limit end the run naming it, the dataset and the key to raise; nothing applied', () => {
  const bed = portalTestbed(() => [treesDataset(300)]);

  /** The job's stream of public-trees, expanded as the daemon does, with the limits the operator set. */
  async function records(limits: GivenLimits): Promise<StreamSource> {
    const options = odsRecordsOptions.parse({ portal: bed.sim.url, datasets: ['public-trees'] });
    const [stream] = await odsRecordsKind.expand({ id: 'trees', kind: 'ods-records' }, options, { http: bed.http, log: bed.log, signal: new AbortController().signal, limits });
    return stream as StreamSource;
  }

  async function refused(limits: GivenLimits): Promise<string> {
    const failure = await bed.syncFails(await records(limits));
    expect(await bed.store.readState('ods:trees:public-trees').then((state) => state?.cursor ?? null)).toBeNull();
    expect(await bed.store.readTable('trees_public_trees').catch(() => [])).toEqual([]);
    return failure.message;
  }

  it('recordsPerResponse: an export with more records', async () => {
    const message = await refused({ recordsPerResponse: 100 });
    expect(message).toBe(`stream ods:trees:public-trees: dataset public-trees: the export (record 101) exceeds limits.recordsPerResponse (100 records); nothing of it is applied. ${raise('recordsPerResponse')}`);
  });

  it('lineBytes: a JSON Lines record longer than it', async () => {
    const message = await refused({ lineBytes: 64 });
    expect(message).toBe(`stream ods:trees:public-trees: dataset public-trees: export line 1 exceeds limits.lineBytes (64 bytes); nothing of it is applied. ${raise('lineBytes')}`);
  });

  it('documentBytes: an API answer read whole (the dataset lookup) larger than it', async () => {
    const message = await refused({ documentBytes: 512 });
    expect(message).toMatch(/^stream ods:trees:public-trees: dataset public-trees: the answer of http:\/\/127\.0\.0\.1:\d+\/api\/explore\/v2\.1\/catalog\/datasets\/public-trees exceeds limits\.documentBytes \(512 bytes\)/);
  });

  it('decodedBytes and responseBytes: an export larger than them', async () => {
    expect(await refused({ decodedBytes: 16 * 1024 })).toMatch(/dataset public-trees: .*\/exports\/jsonl\S* \(decompressed\) exceeds limits\.decodedBytes \(16 KiB\)/);
    expect(await refused({ responseBytes: 16 * 1024 })).toMatch(/dataset public-trees: .*\/exports\/jsonl\S* exceeds limits\.responseBytes \(16 KiB\)/);
  });

  it('documentBytes: a catalog page larger than it', async () => {
    const options = odsCatalogOptions.parse({ portal: bed.sim.url });
    const [catalog] = await odsCatalogKind.expand({ id: 'cat', kind: 'ods-catalog' }, options, { http: bed.http, log: bed.log, signal: new AbortController().signal, limits: { documentBytes: 1024 } });
    const failure = await bed.syncFails(catalog as StreamSource);
    expect(failure.message).toMatch(/^stream ods:cat:catalog: catalog of http:\S+: the answer of \S+\/catalog\/datasets\S* exceeds limits\.documentBytes \(1 KiB\)/);
  });
});
