import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * The published Explore API v2.1 description (test/fixtures/ods/openapi.json), used to validate
 * answers with ajv: the schema of a path, method and status, with the document's own $refs.
 */
const SPEC_ID = 'explore-v2.1.json';
const spec = JSON.parse(readFileSync(new URL('../../fixtures/ods/openapi.json', import.meta.url), 'utf8')) as Spec;

interface Spec {
  readonly paths: Readonly<Record<string, Readonly<Record<string, { readonly responses: Readonly<Record<string, Response>> }>>>>;
  readonly components: { readonly responses: Readonly<Record<string, Response>> };
}

interface Response {
  readonly $ref?: string;
  readonly content?: Readonly<Record<string, { readonly schema?: unknown }>>;
}

// strict: false because the document uses OpenAPI's keywords beside JSON Schema's (example, readOnly).
const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
addFormats.default(ajv);
ajv.addSchema(spec, SPEC_ID);

const compiled = new Map<string, ValidateFunction>();

function validatorAt(pointer: string): ValidateFunction {
  let validate = compiled.get(pointer);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: `${SPEC_ID}#${pointer}` });
    compiled.set(pointer, validate);
  }
  return validate;
}

/** The body's problems against a schema of the document (`/components/schemas/record-v2.1`); empty when valid. */
export function problemsAgainst(pointer: string, body: unknown): string[] {
  const validate = validatorAt(pointer);
  return validate(body) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || '(body)'} ${error.message ?? error.keyword}`);
}

/** The path template of the document that a request path (below /api/explore/v2.1) matches. */
function template(path: string): string {
  const match = Object.keys(spec.paths)
    .filter((candidate) => new RegExp(`^${candidate.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path))
    // `/catalog/exports/csv` is a path of its own as well as an instance of `/catalog/exports/{format}`.
    .sort((a, b) => a.split('{').length - b.split('{').length)[0];
  if (match === undefined) throw new Error(`the Explore API description has no path for ${path}`);
  return match;
}

export interface SpecAnswer {
  /** JSON pointer of the schema the body must follow, or undefined when the description gives none. */
  readonly schema: string | undefined;
  /** The media type the description names (without parameters), when it names one. */
  readonly mediaType: string | undefined;
}

/** What the description says a GET of `path` answers with `status`; throws when it does not list the status. */
export function specAnswer(path: string, status: number): SpecAnswer {
  const pathTemplate = template(path);
  let response = spec.paths[pathTemplate]?.['get']?.responses[String(status)];
  if (response === undefined) throw new Error(`the Explore API description lists no ${status} answer for GET ${pathTemplate}`);
  let pointer = `/paths/${escape(pathTemplate)}/get/responses/${status}`;
  if (response.$ref !== undefined) {
    pointer = response.$ref.slice(1);
    response = spec.components.responses[response.$ref.split('/').at(-1) ?? ''];
    if (response === undefined) throw new Error(`the Explore API description has no answer at ${pointer}`);
  }
  const [mediaType] = Object.keys(response.content ?? {});
  if (mediaType === undefined || response.content?.[mediaType]?.schema === undefined) return { schema: undefined, mediaType: undefined };
  return { schema: `${pointer}/content/${escape(mediaType)}/schema`, mediaType: mediaType.split(';')[0]?.trim() };
}

/** JSON pointer escaping of one reference token. */
function escape(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}
