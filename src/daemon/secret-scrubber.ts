/**
 * Replaces known secret values (and secret-looking query parameters) in any text with ***.
 * Used for every log line and for /status, because a secret substituted into a URL can end up in
 * a cursor or an error message where no key names it.
 */
export type Scrubber = (text: string) => string;

const SECRET_PARAMS = /([?&](?:apikey|api_key|pushkey|push_key|token|access_token|password|secret)=)[^&"\s]*/gi;

export function createScrubber(secrets: readonly string[]): Scrubber {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < 4) continue; // too short to replace without mangling ordinary text
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  const ordered = [...forms].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const form of ordered) out = out.split(form).join('***');
    return out.replace(SECRET_PARAMS, '$1***');
  };
}
