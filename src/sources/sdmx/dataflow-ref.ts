import { z } from 'zod';
import type { ArtefactRef } from './structure.js';

/**
 * `AGENCY:ID(VERSION)` as written in the config, e.g. `OECD.SDD.TPS:DSD_G20_PRICES@DF_G20_PRICES(1.0)`.
 * Agencies may be dotted; .Stat ids may hold `@`. The version must be exact (SDMX 2.1 `1.0`,
 * SDMX 3.0 `1.0.0` or `1.0.0-draft`): the structure is fetched for one version and the tables and
 * cursor follow it, so a wildcard (`+`, `~`, `*`, `1.+`) or `latest` that later resolved to another
 * version would change both behind them.
 */
const DATAFLOW_REF_PATTERN = /^([A-Za-z][A-Za-z0-9_.-]*):([A-Za-z0-9_@$-]+)\(([0-9]+(?:\.[0-9]+)*(?:-[0-9A-Za-z.-]+)?)\)$/;
const DATAFLOW_REF_MESSAGE = 'expected AGENCY:ID(VERSION) with an exact version, e.g. OECD.CFE:DF_TOURISM(2.0); version wildcards (+, ~, *) and "latest" cannot be mirrored';

export const dataflowRefSchema = z.string().regex(DATAFLOW_REF_PATTERN, DATAFLOW_REF_MESSAGE);

export function parseDataflowRef(text: string): ArtefactRef {
  const match = DATAFLOW_REF_PATTERN.exec(text);
  if (!match) throw new Error(`${JSON.stringify(text)}: ${DATAFLOW_REF_MESSAGE}`);
  return { agency: match[1] as string, id: match[2] as string, version: match[3] as string };
}
