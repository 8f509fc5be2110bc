import { findingsOf } from '../core/findings.js';
import type { JsonValue } from '../core/json.js';

/**
 * A stream's findings in one cell: `err C8(1) C26(3); warn C3(5); info 2`. Errors and warnings
 * name their checks, most urgent first, since those are what an operator reports to a publisher;
 * `-` when the source keeps none, `ok` when it found nothing.
 */
export function formatFindings(details: JsonValue): string {
  const findings = findingsOf(details);
  if (findings === undefined) return '-';
  const errors: string[] = [];
  const warnings: string[] = [];
  let infos = 0;
  for (const [check, finding] of Object.entries(findings)) {
    const named = `${check}(${finding.count})`;
    switch (finding.severity) {
      case 'error':
        errors.push(named);
        break;
      case 'warning':
        warnings.push(named);
        break;
      case 'info':
        infos += 1;
        break;
    }
  }
  const parts = [
    errors.length > 0 ? `err ${errors.join(' ')}` : undefined,
    warnings.length > 0 ? `warn ${warnings.join(' ')}` : undefined,
    infos > 0 ? `info ${infos}` : undefined,
  ].filter((part) => part !== undefined);
  return parts.length > 0 ? parts.join('; ') : 'ok';
}
