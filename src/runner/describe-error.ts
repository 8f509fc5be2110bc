/** One line that names the cause: the message, and the causes it wraps (undici nests the socket error). */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth += 1) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      const text = current.message || current.name;
      parts.push(typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text);
      current = current.cause;
    } else {
      parts.push(describeValue(current));
      break;
    }
  }
  // Wrappers often quote their cause already ("network error ...: getaddrinfo ENOTFOUND x").
  return parts.filter((part, index) => !parts.slice(0, index).some((earlier) => earlier.includes(part))).join(': ');
}

/** A thrown non-Error (a string, a plain object from a callback API) as readable text. */
function describeValue(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? Object.prototype.toString.call(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
