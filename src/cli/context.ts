import type { Logger } from 'pino';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import type { SourceKind } from '../core/source-kind.js';
import { createLogger } from '../daemon/logger.js';
import { createScrubber, type Scrubber } from '../daemon/secret-scrubber.js';
import type { HttpClient } from '../http/client.js';
import { builtInKinds } from '../sources/registry.js';
import { openStore } from '../store/open-store.js';
import { httpClientFor } from './http-client-for.js';
import type { Store } from '../store/store.js';

export interface CliContext {
  readonly loaded: LoadedConfig;
  readonly kinds: readonly SourceKind[];
  readonly log: Logger;
  readonly scrub: Scrubber;
  readonly http: HttpClient;
  openStore(options?: { readOnly?: boolean }): Promise<Store>;
}

/** Loads the config and builds what every command needs; the store is opened on demand. */
export async function createCliContext(configFile: string, kinds: readonly SourceKind[] = builtInKinds): Promise<CliContext> {
  const loaded = await loadConfigFile(configFile, kinds);
  const { config, secrets } = loaded;
  const log = createLogger({ level: config.log.level, secrets });
  const http = httpClientFor(config, log);
  return {
    loaded,
    kinds,
    log,
    scrub: createScrubber(secrets),
    http,
    openStore: (options = {}) => openStore(config.store, { ...options, log }),
  };
}
