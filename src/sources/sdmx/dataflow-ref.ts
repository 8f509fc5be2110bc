import type { ArtefactRef } from './structure.js';

/**
 * `AGENCY:ID(VERSION)` as written in the config, e.g. `OECD.SDD.TPS:DSD_G20_PRICES@DF_G20_PRICES(1.0)`.
 * Agencies may be dotted; .Stat ids may hold `@`.
 */
export const DATAFLOW_REF_PATTERN = /^([A-Za-z][A-Za-z0-9_.-]*):([A-Za-z0-9_@$-]+)\(([0-9A-Za-z_.+~-]+)\)$/;
export const DATAFLOW_REF_MESSAGE = 'expected AGENCY:ID(VERSION), e.g. OECD.CFE:DF_TOURISM(2.0)';

export function parseDataflowRef(text: string): ArtefactRef {
  const match = DATAFLOW_REF_PATTERN.exec(text);
  if (!match) throw new Error(`${JSON.stringify(text)}: ${DATAFLOW_REF_MESSAGE}`);
  return { agency: match[1] as string, id: match[2] as string, version: match[3] as string };
}
