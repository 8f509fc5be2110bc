import { secretForms } from '../http/secret-forms.js';

/** A string value of the config in which `${NAME}` placeholders were replaced from the environment. */
export interface Substitution {
  readonly path: readonly (string | number)[];
  /** As written in the file, placeholders and all. */
  readonly raw: string;
  /** After substitution. */
  readonly value: string;
  /** Each placeholder's variable and the (secret) value it stood for. */
  readonly secrets: readonly { readonly name: string; readonly value: string }[];
}

/** Secrets this long are hidden wherever a problem quotes them, whatever its field. */
const MIN_SECRET_LENGTH = 4;
/** A message about a field that holds a secret hides any run this long that the secret contains. */
const MIN_RUN = 6;

/**
 * A validation message with the substituted secrets put back as the placeholders the file wrote
 * (`${CRON_SECRET}`): a message quotes the value it refused, or a piece of it (cron-parser's
 * "got value: ..." quotes one field of the expression), and the value came from the environment
 * because it is a secret.
 *
 * - About a field that holds a secret (`issuePath` or below): the whole value as the file wrote
 *   it; then each word of the secret (split at spaces and commas, as parsers split it), wherever
 *   it stands as a word of its own; then any run of MIN_RUN characters the secret contains.
 * - About any field: every secret of at least MIN_SECRET_LENGTH characters, in every form.
 */
export function withPlaceholders(message: string, issuePath: readonly PropertyKey[], substitutions: readonly Substitution[]): string {
  let out = message;
  const concerned = substitutions.filter((substitution) => issuePath.every((part, index) => substitution.path[index] === part));
  for (const substitution of [...concerned].sort((a, b) => b.value.length - a.value.length)) {
    out = replaceForms(out, substitution.value, substitution.raw);
  }
  for (const { name, value } of concerned.flatMap((substitution) => substitution.secrets)) {
    const placeholder = `\${${name}}`;
    for (const word of value.split(/[\s,]+/).filter((part) => part.length >= 2).sort((a, b) => b.length - a.length)) {
      out = out.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(word)}(?![\\p{L}\\p{N}])`, 'gu'), placeholder);
    }
    for (const form of secretForms(value)) out = replaceRuns(out, form, placeholder);
  }
  const secrets = substitutions.flatMap((substitution) => substitution.secrets).filter((secret) => secret.value.length >= MIN_SECRET_LENGTH);
  for (const secret of secrets.sort((a, b) => b.value.length - a.value.length)) out = replaceForms(out, secret.value, `\${${secret.name}}`);
  return out;
}

/** `text` with each stretch of at least MIN_RUN characters that `secret` contains replaced (longest match from left to right). */
function replaceRuns(text: string, secret: string, replacement: string): string {
  if (secret.length < MIN_RUN) return text;
  let out = '';
  let index = 0;
  while (index < text.length) {
    let length = 0;
    while (index + length < text.length && secret.includes(text.slice(index, index + length + 1))) length += 1;
    if (length >= MIN_RUN) {
      out += replacement;
      index += length;
    } else {
      out += text[index] as string;
      index += 1;
    }
  }
  return out;
}

/** `text` with `value`, in every form a message may quote it (raw, JSON-escaped, percent-encoded), replaced. */
function replaceForms(text: string, value: string, replacement: string): string {
  if (value.length === 0) return text;
  let out = text;
  for (const form of secretForms(value).sort((a, b) => b.length - a.length)) out = out.split(form).join(replacement);
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
