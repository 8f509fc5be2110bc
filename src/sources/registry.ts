import type { SourceKind } from '../core/source-kind.js';
import { odsCatalogKind } from './ods/catalog-kind.js';
import { odsRecordsKind } from './ods/records-kind.js';
import { rpdeKind } from './rpde/kind.js';
import { sdmxKind } from './sdmx/kind.js';

/** Every kind of source the daemon knows; the config's `kind` field picks one. */
export const builtInKinds: readonly SourceKind[] = [sdmxKind, rpdeKind, odsCatalogKind, odsRecordsKind];
