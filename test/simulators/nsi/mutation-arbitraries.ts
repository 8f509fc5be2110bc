import fc from 'fast-check';
import type { DataflowStructure } from '../../../src/simulators/nsi/dataflow-structure.js';
import type { DimensionKey, HostedDataflow } from '../../../src/simulators/nsi/hosted-dataflow.js';

/**
 * Random source mutations over a small key space (so that changes collide with each other):
 * inserts, revisions, observation deletes, wildcard deletes on some dimensions, attribute changes
 * and deletes at every attachment level, referential metadata changes.
 */
export type Mutation =
  | { readonly kind: 'merge'; readonly key: DimensionKey; readonly values: Record<string, string> }
  | { readonly kind: 'replace'; readonly key: DimensionKey; readonly values: Record<string, string> }
  | { readonly kind: 'deleteObservation'; readonly key: DimensionKey }
  | { readonly kind: 'deleteData'; readonly scope: DimensionKey; readonly components: readonly string[] }
  | { readonly kind: 'setAttribute'; readonly attribute: string; readonly key: DimensionKey; readonly value: string }
  | { readonly kind: 'deleteAttribute'; readonly attribute: string; readonly key: DimensionKey }
  | { readonly kind: 'mergeMetadata'; readonly key: DimensionKey; readonly values: Record<string, string> }
  | { readonly kind: 'replaceMetadata'; readonly key: DimensionKey; readonly values: Record<string, string> }
  | { readonly kind: 'deleteMetadata'; readonly scope: DimensionKey; readonly attributes: readonly string[] };

/** Values that trip CSV handling: an empty string, delimiters, quotes, line breaks, NaN and #N/A. */
export const valueArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('1', '2.5', '-3', '1e5', 'x', 'A') },
  { weight: 1, arbitrary: fc.constantFrom('', 'NaN', '#N/A', 'a,b', 'say "hi"', 'two\nlines', ' padded ', 'é€') },
);

export function mutationArb(structure: DataflowStructure, domains: Readonly<Record<string, readonly string[]>>): fc.Arbitrary<Mutation> {
  const dims = structure.dimensions;
  const domain = (d: string): readonly string[] => {
    const values = domains[d];
    if (!values) throw new Error(`no domain for ${d}`);
    return values;
  };
  const fullKey = fc.tuple(...dims.map((d) => fc.constantFrom(...domain(d)))).map((vs) => Object.fromEntries(dims.map((d, i) => [d, vs[i]!])));
  const partialKey = fc
    .tuple(...dims.map((d) => fc.option(fc.constantFrom(...domain(d)), { freq: 2 })))
    .map((vs) => Object.fromEntries(dims.flatMap((d, i) => (vs[i] === null ? [] : [[d, vs[i]!]]))));
  const subsetOf = (items: readonly string[], minLength = 0): fc.Arbitrary<string[]> =>
    items.length === 0 ? fc.constant([]) : fc.subarray([...items], { minLength: Math.min(minLength, items.length) });
  const valuesFor = (ids: readonly string[], minLength: number): fc.Arbitrary<Record<string, string>> =>
    subsetOf(ids, minLength).chain((chosen) =>
      fc.tuple(...chosen.map(() => valueArb)).map((vs) => Object.fromEntries(chosen.map((c, i) => [c, vs[i]!]))),
    );
  const obsComponents = structure.observationComponents;
  const nonDimension = [...obsComponents, ...structure.attachments.flatMap((a) => a.attributes)];
  const higher = structure.attachments.flatMap((a) => a.attributes);

  // Weighted towards observation changes: their interplay (a Replace dropping a value, then a
  // partial delete emptying the observation) is where a synchronisation answer goes wrong.
  const arbs: fc.WeightedArbitrary<Mutation>[] = [
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('merge' as const), key: fullKey, values: valuesFor(obsComponents, 1) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('replace' as const), key: fullKey, values: valuesFor(obsComponents, 0) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteObservation' as const), key: fullKey }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('deleteData' as const), scope: partialKey, components: subsetOf(nonDimension) }) },
  ];
  if (higher.length > 0) {
    arbs.push(
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('setAttribute' as const), attribute: fc.constantFrom(...higher), key: fullKey, value: valueArb }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteAttribute' as const), attribute: fc.constantFrom(...higher), key: fullKey }) },
    );
  }
  if (structure.metadataAttributes.length > 0) {
    const metaKey = fc
      .tuple(...dims.map((d) => fc.constantFrom('~', ...domain(d).slice(0, 2))))
      .map((vs) => Object.fromEntries(dims.map((d, i) => [d, vs[i]!])));
    const metaScope = fc
      .tuple(...dims.map((d) => fc.option(fc.constantFrom('~', '*', ...domain(d).slice(0, 2)), { freq: 2 })))
      .map((vs) => Object.fromEntries(dims.flatMap((d, i) => (vs[i] === null ? [] : [[d, vs[i]!]]))));
    const metaAttrs = structure.metadataAttributes;
    arbs.push(
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('mergeMetadata' as const), key: metaKey, values: valuesFor(metaAttrs, 1) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('replaceMetadata' as const), key: metaKey, values: valuesFor(metaAttrs, 0) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteMetadata' as const), scope: metaScope, attributes: subsetOf(metaAttrs) }) },
    );
  }
  return fc.oneof(...arbs);
}

export function applyMutation(flow: HostedDataflow, m: Mutation): void {
  switch (m.kind) {
    case 'merge':
      flow.mergeObservation(m.key, m.values);
      return;
    case 'replace':
      flow.replaceObservation(m.key, m.values);
      return;
    case 'deleteObservation':
      flow.deleteObservation(m.key);
      return;
    case 'deleteData':
      flow.deleteData(m.scope, m.components);
      return;
    case 'setAttribute':
      flow.setAttribute(m.attribute, m.key, m.value);
      return;
    case 'deleteAttribute':
      flow.deleteAttribute(m.attribute, m.key);
      return;
    case 'mergeMetadata':
      flow.mergeMetadata(m.key, m.values);
      return;
    case 'replaceMetadata':
      flow.replaceMetadata(m.key, m.values);
      return;
    case 'deleteMetadata':
      flow.deleteMetadata(m.scope, m.attributes);
      return;
  }
}
