import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** tmpfs where the machine has one (Linux); elsewhere the usual temporary folder. */
const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/**
 * A fresh folder for a test's files (remove it when done), in memory when the machine allows:
 * every SQLite commit syncs to disk, and the tests that commit hundreds of times are not about the
 * disk. A process killed mid-write leaves the same file on tmpfs as on a disk (only a machine
 * crash differs), so the SIGKILL tests may use it too.
 */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(base, prefix));
}
