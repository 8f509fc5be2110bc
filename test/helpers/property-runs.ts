/**
 * How many runs a convergence property makes: `quick` in `npm test`, where the whole suite must stay
 * short, and four times as many in the hardening tier (`npm run test:hardening`, which runs the same
 * files with DSS_PROPERTY_DEPTH=deep; CI runs both tiers). `override` (FC_RUNS, FC_SERVER_RUNS)
 * sets the count in either.
 */
export function propertyRuns(quick: number, override: string | undefined): number {
  if (override !== undefined && override !== '') return Number(override);
  return process.env.DSS_PROPERTY_DEPTH === 'deep' ? quick * 4 : quick;
}
