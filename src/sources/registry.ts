import type { SourceKind } from '../core/source-kind.js';

/** Every kind of source the daemon knows; the config's `kind` field picks one. */
export const builtInKinds: readonly SourceKind[] = [];
