import type { DemoPartFactory } from './demo-part.js';
import { startOdsPart } from './ods-part.js';
import { startRpdePart } from './rpde-part.js';
import { startSdmxPart } from './sdmx-part.js';

/** Every source the demo shows, in order; a new kind of source joins with one entry. */
export const DEMO_PARTS: readonly DemoPartFactory[] = [startSdmxPart, startRpdePart, startOdsPart];
