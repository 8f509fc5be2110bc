import { startRpdePublisher } from '../../simulators/rpde/publisher.js';
import type { DemoPart, DemoPartOptions } from './demo-part.js';
import { startDemoPushTarget } from './push-target.js';

/**
 * RPDE: an OpenActive publisher of session series, mirrored into `sessions_items`. Each round
 * updates some items, deletes some (tombstones in the mirror, counted as deletions) and publishes
 * new ones. Given a push key, the job also pushes the live items to an Opendatasoft realtime
 * dataset, where the deleted ones are deleted.
 */
export async function startRpdePart(options: DemoPartOptions = {}): Promise<DemoPart> {
  const prefix = options.prefix ?? 'sessions';
  const rpde = await startRpdePublisher({ items: 1200, pageSize: 250 });
  const { feed } = rpde;
  const push =
    options.pushKey === undefined
      ? undefined
      : await startDemoPushTarget({
          dataset: prefix,
          // The fields of a pushed RPDE item (README, "Push to Opendatasoft").
          fields: ['id', 'kind', 'modified', 'data'].map((name) => ({ name, type: 'text' as const })),
          uniqueId: ['id'],
          pushKey: options.pushKey,
        }).catch(async (error: unknown) => {
          await rpde.close();
          throw error;
        });
  return {
    describe: [`RPDE: an OpenActive publisher at ${rpde.url} (1200 session series, 250 a page)`, ...(push ? [push.describe] : [])],
    jobs: [{ id: options.jobId ?? 'demo-feed', kind: 'rpde', feeds: [{ url: rpde.url, prefix: prefix }], pollInterval: '8s', ...(push ? { push: [push.config] } : {}) }],
    ...(push ? { push } : {}),
    change(round) {
      const live = [...feed.liveItems().keys()];
      const start = (round * 37) % Math.max(1, live.length - 60);
      for (const id of live.slice(start, start + 20)) feed.upsert(id);
      feed.deleteMany(live.slice(start + 20, start + 30));
      for (let i = 0; i < 10; i += 1) feed.upsert(feed.newId());
      return ['RPDE: 20 items updated, 10 deleted, 10 published'];
    },
    async compare(store) {
      const rows = await store.readTable(`${prefix}_items`);
      const live = rows.filter((row) => row['state'] === 'updated');
      const mirrored = new Map(live.map((row) => [String(row['id']), String(row['modified_raw'])]));
      const source = feed.liveItems();
      const problems: string[] = [];
      for (const [id, item] of source) {
        if (mirrored.get(id) !== item.modified.toString()) problems.push(`RPDE item ${id}: modified ${item.modified} at the source, ${mirrored.get(id) ?? 'missing'} in the mirror`);
      }
      for (const id of mirrored.keys()) if (!source.has(id)) problems.push(`RPDE item ${id}: deleted at the source, live in the mirror`);
      // The dataset holds each live item as pushed: its modified as the feed wrote it, its data as JSON text.
      if (push) problems.push(...push.compare(live.map((row) => ({ id: row['id'], kind: row['kind'], modified: row['modified_raw'], data: row['data'] }))));
      return problems.length > 5 ? [...problems.slice(0, 5), `... and ${problems.length - 5} more RPDE differences`] : problems;
    },
    async summary(store) {
      const rows = await store.readTable(`${prefix}_items`);
      const tombstones = rows.filter((row) => row['state'] === 'deleted').length;
      return [`${prefix}_items: ${rows.length - tombstones} live items and ${tombstones} tombstones of deleted ones`, ...(push ? [await push.summary(store)] : [])];
    },
    close: async () => {
      await rpde.close();
      await push?.close();
    },
  };
}
