import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig, type LoadedConfig } from '../../src/config/load.js';
import { parseDuration } from '../../src/core/duration.js';
import { builtInKinds } from '../../src/sources/registry.js';
import { startTestDaemon, TEST_SECRET, type RunningDaemon } from '../helpers/daemon.js';
import { all, parseDockerfile, type Stage } from '../helpers/dockerfile.js';

/**
 * The deployment examples for several instances (deploy/kubernetes, deploy/compose) are not run
 * here (no cluster, no Docker engine), so they are read: each is parsed, its config validated by
 * the daemon's own loader, and its ports, probes, paths and secrets checked against that config,
 * the daemon's endpoints and the Dockerfile the image is built from.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const [, runtime] = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')) as [Stage, Stage];
const EXPOSED = Number(all(runtime, 'EXPOSE')[0]);
const WORKDIR = all(runtime, 'WORKDIR')[0] as string;
/** Where the image's CLI reads its config by default: sync.config.json in its working directory. */
const CONFIG_PATH = `${WORKDIR}/sync.config.json`;

type Node = Record<string, unknown>;

function yamlDocuments(path: string): Node[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((document) => {
    expect(document.errors, path).toEqual([]);
    return document.toJS() as Node;
  });
}

const at = (node: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string | number, unknown>)[key] : undefined), node);

/** `${NAME}` references of a config text, as the loader substitutes them. */
function referencedVariables(text: string): string[] {
  return [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1] as string);
}

/** Validates a config with the daemon's loader, every variable it names given a placeholder value. */
function loadConfig(text: string, file: string, provided: readonly string[]): LoadedConfig {
  const env = Object.fromEntries(provided.map((name) => [name, `${name.toLowerCase()}-value-0123456789`]));
  return parseConfig(text, file, builtInKinds, env);
}

const seconds = (duration: string): number => (parseDuration(duration) as number) / 1000;

describe('the Kubernetes example (deploy/kubernetes)', () => {
  const dir = join(ROOT, 'deploy/kubernetes');
  const documents = readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .flatMap((name) => yamlDocuments(join(dir, name)));
  const byKind = (kind: string) => documents.filter((document) => document['kind'] === kind);
  const deployment = byKind('Deployment')[0] as Node;
  const configMap = byKind('ConfigMap')[0] as Node;
  const secret = byKind('Secret')[0] as Node;
  const container = at(deployment, 'spec', 'template', 'spec', 'containers', 0) as Node;
  const configText = at(configMap, 'data', 'sync.config.json') as string;
  const secretKeys = Object.keys((at(secret, 'stringData') ?? at(secret, 'data') ?? {}));
  const loaded = loadConfig(configText, 'deploy/kubernetes/configmap.yaml', secretKeys);

  it('is a Deployment of several replicas on a PostgreSQL store, its config a ConfigMap the loader accepts', () => {
    expect(byKind('Deployment')).toHaveLength(1);
    expect(at(deployment, 'spec', 'replicas')).toBeGreaterThan(1);
    // Several replicas need the shared store: SQLite allows one writer.
    expect(loaded.config.store.engine).toBe('postgres');
    const selector = at(deployment, 'spec', 'selector', 'matchLabels') as Node;
    expect(at(deployment, 'spec', 'template', 'metadata', 'labels')).toMatchObject(selector);
    // The image's own entry point and command (`run`) are kept.
    expect(container['command']).toBeUndefined();
    expect(container['args']).toBeUndefined();
  });

  it('mounts the ConfigMap where the image reads its config, and keeps every secret in the Secret', () => {
    const mount = (container['volumeMounts'] as Node[]).find((candidate) => candidate['mountPath'] === CONFIG_PATH) as Node;
    expect(mount, `a volume mounted at ${CONFIG_PATH}`).toBeDefined();
    expect(mount['subPath']).toBe('sync.config.json');
    const volume = (at(deployment, 'spec', 'template', 'spec', 'volumes') as Node[]).find((candidate) => candidate['name'] === mount['name']);
    expect(at(volume, 'configMap', 'name')).toBe(at(configMap, 'metadata', 'name'));
    // Every ${VAR} of the config comes from the Secret, through envFrom.
    expect(container['envFrom']).toEqual([{ secretRef: { name: at(secret, 'metadata', 'name') } }]);
    expect(referencedVariables(configText).sort()).toEqual([...new Set(secretKeys)].sort());
    // The status token is one of them, hence a secret: never in the ConfigMap in clear.
    expect(loaded.config.server.tokens).toHaveLength(1);
    expect(loaded.secrets).toEqual(expect.arrayContaining([loaded.config.server.tokens[0]]));
  });

  it('probes /healthz and /readyz on the port the config serves and the Dockerfile exposes', async () => {
    const ports = container['ports'] as Node[];
    const http = ports.find((port) => port['name'] === 'http') as Node;
    expect(http['containerPort']).toBe(loaded.config.server.port);
    expect(http['containerPort']).toBe(EXPOSED);
    expect(loaded.config.server.host).toBe('0.0.0.0');
    expect(at(container, 'livenessProbe', 'httpGet')).toEqual({ path: '/healthz', port: 'http' });
    expect(at(container, 'readinessProbe', 'httpGet')).toEqual({ path: '/readyz', port: 'http' });
    await expectProbesAnswer(at(container, 'livenessProbe', 'httpGet', 'path') as string, at(container, 'readinessProbe', 'httpGet', 'path') as string);
    const service = byKind('Service')[0];
    expect(at(service, 'spec', 'ports', 0, 'targetPort')).toBe('http');
    expect(at(service, 'spec', 'selector')).toEqual(at(deployment, 'spec', 'selector', 'matchLabels'));
  });

  it('gives SIGTERM longer than the config\'s shutdownTimeout before it kills', () => {
    expect(at(deployment, 'spec', 'template', 'spec', 'terminationGracePeriodSeconds')).toBeGreaterThan(seconds(loaded.config.shutdownTimeout));
  });
});

describe('the Compose example (deploy/compose)', () => {
  const dir = join(ROOT, 'deploy/compose');
  const compose = yamlDocuments(join(dir, 'compose.yaml'))[0] as Node;
  const services = compose['services'] as Node;
  const daemon = services['dataspace-sync'] as Node;
  const db = services['db'] as Node;
  const volumes = daemon['volumes'] as string[];
  const configMount = volumes.find((volume) => volume.split(':')[1] === CONFIG_PATH) as string;
  const configFile = resolve(dir, configMount.split(':')[0] as string);
  const configText = readFileSync(configFile, 'utf8');
  const environment = daemon['environment'] as Record<string, string>;
  const loaded = loadConfig(configText, 'deploy/compose/sync.config.json', Object.keys(environment));

  it('builds the image from the repository\'s Dockerfile and mounts a config the loader accepts where the image reads it', () => {
    expect(existsSync(join(resolve(dir, daemon['build'] as string), 'Dockerfile'))).toBe(true);
    expect(configMount.endsWith(':ro')).toBe(true);
    expect(existsSync(configFile)).toBe(true);
    expect(referencedVariables(configText).sort()).toEqual(Object.keys(environment).sort());
    for (const value of Object.values(environment)) expect(value).toMatch(/^\$\{[A-Z_]+(:\?[^}]*)?\}$/);
  });

  it('runs several daemons on the PostgreSQL service, started once it is healthy', () => {
    expect(at(daemon, 'deploy', 'replicas')).toBeGreaterThan(1);
    expect(loaded.config.store.engine).toBe('postgres');
    const url = new URL((loaded.config.store as { url: string }).url);
    expect(url.hostname).toBe('db');
    expect(url.port).toBe('5432');
    expect(String(db['image'])).toMatch(/^postgres:\d+/);
    const dbEnvironment = db['environment'] as Record<string, string>;
    expect(url.username).toBe(dbEnvironment['POSTGRES_USER']);
    expect(url.pathname).toBe(`/${dbEnvironment['POSTGRES_DB']}`);
    // The daemon's password and the server's are the same variable.
    expect(dbEnvironment['POSTGRES_PASSWORD']).toBe(environment['PGPASSWORD']);
    expect(at(db, 'healthcheck', 'test')).toEqual(expect.arrayContaining(['pg_isready']));
    expect(at(daemon, 'depends_on', 'db', 'condition')).toBe('service_healthy');
  });

  it('publishes the port the config serves and the Dockerfile exposes, once per replica, on loopback only', () => {
    const [published] = daemon['ports'] as string[];
    const match = /^127\.0\.0\.1:(\d+)(?:-(\d+))?:(\d+)$/.exec(published ?? '');
    expect(match, published).not.toBeNull();
    const [, first, last, target] = match as RegExpExecArray;
    expect(Number(target)).toBe(loaded.config.server.port);
    expect(Number(target)).toBe(EXPOSED);
    expect(Number(last ?? first) - Number(first) + 1).toBe(at(daemon, 'deploy', 'replicas'));
  });

  it('gives SIGTERM longer than the config\'s shutdownTimeout before it kills', () => {
    expect(seconds(String(daemon['stop_grace_period']).replace(/^(\d+)$/, '$1s'))).toBeGreaterThan(seconds(loaded.config.shutdownTimeout));
  });
});

let running: RunningDaemon | undefined;
afterEach(async () => {
  await running?.cleanup();
  running = undefined;
});

/** The probe paths answer a daemon whose endpoints are behind a token, without the token: probes carry none. */
async function expectProbesAnswer(liveness: string, readiness: string): Promise<void> {
  running = await startTestDaemon({ units: 1 }, {}, { server: { host: '127.0.0.1', port: 0, tokens: ['${TEST_TOKEN}'] } });
  expect(TEST_SECRET.length).toBeGreaterThanOrEqual(16);
  const live = await fetch(`${running.base}${liveness}`);
  expect(live.status).toBe(200);
  const ready = await fetch(`${running.base}${readiness}`);
  // Ready or not, but answered: neither unknown (404) nor behind the token (401).
  expect([200, 503]).toContain(ready.status);
  // The token does guard the rest: the probes are the exception.
  expect((await fetch(`${running.base}/status`)).status).toBe(401);
}
