import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL cluster of a test's own, for what must not happen to the shared server
 * other tests use (a restart): initdb and pg_ctl of the installed server, on a free loopback port,
 * with its data in a temporary folder. PostgreSQL refuses to run as root, so as root its programs
 * run as the `postgres` OS user, in a folder that user owns.
 */
export interface PrivateCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  /**
   * Stops the server the way an administrator's fast restart does (every session ends with 57P01,
   * open transactions roll back), stays down `downMs`, then starts it again. Resolves with the
   * moment (ms since the epoch) the server was down: every session, and every advisory lock, had
   * ended by then.
   */
  restart(downMs?: number): Promise<{ readonly stoppedAt: number }>;
  /** Stops the server and removes its folder. */
  destroy(): Promise<void>;
}

/** The folder of the newest installed server's programs (initdb, pg_ctl), or undefined. */
export function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => existsSync(join(root, name, 'bin', 'initdb')) && existsSync(join(root, name, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** Undefined when a private cluster can be started here; otherwise why not, for the skip (or failure) message. */
export function privateClusterUnavailable(): string | undefined {
  if (postgresBinaries() === undefined) return 'initdb and pg_ctl are not installed (no /usr/lib/postgresql/*/bin/initdb)';
  if (isRoot() && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'running as root without runuser to start PostgreSQL as the postgres user';
  return undefined;
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = postgresBinaries();
  if (bin === undefined) throw new Error(privateClusterUnavailable());
  const dir = mkdtempSync(join(tmpdir(), 'dss-pg-cluster-'));
  if (isRoot()) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  const as = (program: string, args: string[]) =>
    isRoot() ? run('runuser', ['-u', 'postgres', '--', join(bin, program), ...args]) : run(join(bin, program), args);
  // The server logs to a file: left on pg_ctl's output, it would hold the pipe open and pg_ctl would never seem done.
  const pgCtl = (...args: string[]) => as('pg_ctl', ['-D', data, '-w', '-t', '60', '-l', join(dir, 'server.log'), ...args]);
  // The socket in the cluster's folder, not /var/run/postgresql (owned by the system's server);
  // fsync off: the server's own durability is not under test (its host never crashes here), only its restarts.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c full_page_writes=off`;
  try {
    await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
    await pgCtl('-o', options, 'start');
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: async (downMs = 0) => {
      await pgCtl('-m', 'fast', 'stop');
      const stoppedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await pgCtl('-o', options, 'start');
      return { stoppedAt };
    },
    destroy: async () => {
      await pgCtl('-m', 'immediate', 'stop').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function postgresUser(): { uid: number; gid: number } {
  try {
    // os.userInfo describes only the current user; `id` looks up another.
    return { uid: Number(idOf('-u')), gid: Number(idOf('-g')) };
  } catch (error) {
    throw new Error(`no postgres OS user to run PostgreSQL as (we are ${userInfo().username})`, { cause: error });
  }
}

function idOf(flag: string): string {
  return execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
