/**
 * A harvesting daemon in a child process, for the kill -9 test: it mirrors one RPDE feed into a
 * SQLite file until the last page, and is meant to be killed before it gets there.
 * Usage: node --import tsx harvest-child.ts <feed url> <sqlite path> (the test runs a compiled copy).
 */
import { createHttpClient } from '../../../src/http/undici-client.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { feedSource, harvest, TestClock } from './harness.js';

const [feedUrl, path] = process.argv.slice(2);
if (feedUrl === undefined || path === undefined) throw new Error('usage: harvest-child.ts <feed url> <sqlite path>');

const store = new SqliteStore({ path, staleLockAfterMs: 1 });
await store.open();
const http = createHttpClient({ maxRetries: 0 });
process.stdout.write('ready\n');
await harvest(store, feedSource(feedUrl, new TestClock()), http);
await http.close();
await store.close();
process.stdout.write('done\n');
