import { ActionRequiredError } from '../../core/source.js';

/**
 * The portal refused a request for a reason no retry can fix: a 400 (a malformed ODSQL `where`,
 * a parameter out of range: `InvalidRESTParameterError`, `ODSQLError`...), or a 401/403 (no API
 * key, or one without the rights). The message carries the portal's own `error_code` and text.
 */
export class ExploreRefusedError extends ActionRequiredError {
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: string | undefined,
  ) {
    super(message);
    this.name = 'ExploreRefusedError';
  }
}

/** A 404 `NotFoundResource`: the dataset was deleted, unpublished, renamed, or hidden from this API key. */
export class ExploreNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExploreNotFoundError';
  }
}

/**
 * An answer that is not what the Explore API sends: an HTML page with status 200 (a login or
 * maintenance page in front of the portal), JSON of the wrong shape, an export cut short.
 * Transient as far as the runner knows: the run ends and backs off.
 */
export class ExploreAnswerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ExploreAnswerError';
  }
}
