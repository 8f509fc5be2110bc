import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { describeSdmxConvergence, RUNS } from './helpers/sdmx-convergence.js';
import { scratchDir } from './helpers/scratch-dir.js';

// The SDMX convergence property (test/helpers/sdmx-convergence.ts) on SQLite; the server engines
// have a file of their own, which runs beside this one.
describeSdmxConvergence([
  {
    name: 'SQLite',
    runs: RUNS,
    open: async () => {
      const dir = scratchDir('dss-convergence-');
      const sqlite = new SqliteStore({ path: join(dir, 'sync.db') });
      const dispose = async (): Promise<void> => {
        await sqlite.close().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      };
      await sqlite.open().catch(async (error: unknown) => {
        await dispose();
        throw error;
      });
      return { store: sqlite, dispose };
    },
  },
]);
