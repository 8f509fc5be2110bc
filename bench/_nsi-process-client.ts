import { fork } from 'node:child_process';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NsiBenchReply, NsiBenchRequest } from './sdmx-nsi-process.js';

/** Forks bench/sdmx-nsi-process.ts and talks to it; shared by the SDMX benchmarks. */
export interface NsiProcess {
  readonly url: string;
  changes(id: string, changes: number, stride: number): Promise<{ revised: number; deleted: number }>;
  close(): Promise<void>;
}

export async function startNsiProcess(
  flows: readonly { id: string; observations: number }[],
  options: { readonly recorded?: boolean; readonly synthetic?: boolean; readonly execArgv?: readonly string[] } = {},
): Promise<NsiProcess> {
  const here = fileURLToPath(import.meta.url);
  const script = join(dirname(here), `sdmx-nsi-process${extname(here)}`);
  const execArgv = [...process.execArgv.filter((arg) => arg !== '--expose-gc'), ...(options.execArgv ?? [])];
  const child = fork(script, [], { execArgv, stdio: 'inherit' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ask = (request: NsiBenchRequest): Promise<NsiBenchReply> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`the NSI process exited with code ${code}`));
      child.once('exit', onExit);
      child.once('message', (reply: NsiBenchReply) => {
        child.off('exit', onExit);
        resolve(reply);
      });
      child.send(request);
    });
  const started = await ask({
    type: 'start',
    flows,
    ...(options.recorded === true ? { recorded: true } : {}),
    ...(options.synthetic === true ? { synthetic: true } : {}),
  });
  if (started.type !== 'started') throw new Error('unexpected reply from the NSI process');
  return {
    url: started.url,
    async changes(id, changes, stride) {
      const reply = await ask({ type: 'changes', id, changes, stride });
      if (reply.type !== 'changed') throw new Error('unexpected reply from the NSI process');
      return { revised: reply.revised, deleted: reply.deleted };
    },
    async close() {
      child.send({ type: 'close' } satisfies NsiBenchRequest);
      await exited;
    },
  };
}
