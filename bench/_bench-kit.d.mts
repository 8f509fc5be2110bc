// Types of _bench-kit.mjs for the .ts benchmarks.
import type { pino as Pino } from 'pino';
import type { createHttpClient as CreateHttpClient } from '../src/http/undici-client.js';
import type { runStream as RunStream } from '../src/runner/run-stream.js';
import type { SdmxSource as SdmxSourceClass } from '../src/sources/sdmx/sdmx-source.js';
import type { SqliteStore as SqliteStoreClass } from '../src/store/sqlite/sqlite-store.js';

type BenchArg<T> = T extends number ? number : T extends boolean ? boolean : string;
export function benchArgs<const T extends Record<string, number | string | boolean>>(defaults: T): { [K in keyof T]: BenchArg<T[K]> };
export function median(values: readonly number[]): number;
export function mib(bytes: number): number;
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void;

export const FULL_LOAD_FLOW: string;
export function fullLoadDataUrl(endpoint: string): string;
export interface FullLoadModules {
  readonly createHttpClient: typeof CreateHttpClient;
  readonly runStream: typeof RunStream;
  readonly SdmxSource: typeof SdmxSourceClass;
  readonly SqliteStore: typeof SqliteStoreClass;
  readonly pino: typeof Pino;
}
export function fullLoad(modules: FullLoadModules, endpoint: string, path: string, beforeClose?: () => void): Promise<number>;
export function timedFullLoad(modules: FullLoadModules, endpoint: string, observations: number): Promise<number>;
export function checkRows(path: string, table: string, expected: number): void;
export function fullLoadBody(endpoint: string): Promise<NodeJS.ReadableStream>;
export function csvParseToSqlite(endpoint: string, path: string): Promise<number>;
export function downloadOnly(endpoint: string): Promise<number>;
