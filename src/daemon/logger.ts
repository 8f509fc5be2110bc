import pino, { type DestinationStream, type Logger } from 'pino';
import { REDACT_PATHS } from '../http/redact.js';
import { createScrubber } from './secret-scrubber.js';

export interface LoggerOptions {
  readonly level?: string;
  /** Literal values (from `${ENV}` substitution) replaced by *** in every line, wherever they appear. */
  readonly secrets?: readonly string[];
  readonly destination?: DestinationStream;
}

/**
 * pino JSON logs. Secrets are removed twice: by key (pino's redact paths) and by value, because a
 * substituted secret can end up inside a URL or an error message where no key names it.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const scrub = createScrubber(options.secrets ?? []);
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'dataspace-sync' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: '***' },
      hooks: { streamWrite: scrub },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
