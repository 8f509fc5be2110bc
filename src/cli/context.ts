import type { Logger } from 'pino';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import type { SourceKind } from '../core/source-kind.js';
import { createLogger } from '../daemon/logger.js';
import { createScrubber, type Scrubber } from '../daemon/secret-scrubber.js';
import type { HttpClient } from '../http/client.js';
import { builtInKinds } from '../sources/registry.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

export interface CliContext {
  readonly loaded: LoadedConfig;
  readonly kinds: readonly SourceKind[];
  readonly log: Logger;
  readonly scrub: Scrubber;
  /** The config's HTTP client, built on first use: commands that make no request (check-config, status) never load the HTTP library. */
  http(): Promise<HttpClient>;
  openStore(options?: { readOnly?: boolean }): Promise<Store>;
}

/** Loads the config and builds what every command needs; the store is opened on demand. */
export async function createCliContext(configFile: string, kinds: readonly SourceKind[] = builtInKinds): Promise<CliContext> {
  const loaded = await loadConfigFile(configFile, kinds);
  const { config, secrets } = loaded;
  const log = createLogger({ level: config.log.level, secrets });
  let http: Promise<HttpClient> | undefined;
  return {
    loaded,
    kinds,
    log,
    scrub: createScrubber(secrets),
    http: () => (http ??= import('./http-client-for.js').then(({ httpClientFor }) => httpClientFor(config, log))),
    openStore: (options = {}) => openStore(config.store, { ...options, log }),
  };
}
