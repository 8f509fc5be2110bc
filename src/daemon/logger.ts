import pino, { type DestinationStream, type Logger } from 'pino';

/** Keys whose values never reach a log line, wherever they appear in a logged object. */
const REDACTED_KEYS = ['apikey', 'apiKey', 'api_key', 'pushkey', 'pushKey', 'push_key', 'password', 'secret', 'token', 'authorization', 'Authorization'];
const REDACT_PATHS = [...REDACTED_KEYS, ...REDACTED_KEYS.map((key) => `*.${key}`), ...REDACTED_KEYS.map((key) => `*.*.${key}`)];

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
  const secrets = [...new Set(options.secrets ?? [])].filter((secret) => secret.length >= 4).sort((a, b) => b.length - a.length);
  const scrub = (line: string): string => {
    let out = line;
    for (const secret of secrets) {
      out = out.split(secret).join('***');
      const encoded = encodeURIComponent(secret);
      if (encoded !== secret) out = out.split(encoded).join('***');
      const json = JSON.stringify(secret).slice(1, -1);
      if (json !== secret) out = out.split(json).join('***');
    }
    return out.replace(/([?&](?:apikey|api_key|pushkey|push_key|token|access_token|password|secret)=)[^&"\s]*/gi, '$1***');
  };
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'dataspace-sync' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '***' },
      hooks: { streamWrite: scrub },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
