/** The terminal's width; COLUMNS overrides it, and without either (a pipe, a file) there is no limit. */
export function terminalWidth(stream: NodeJS.WriteStream = process.stdout): { width?: number } {
  const fromEnv = Number(process.env['COLUMNS']);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return { width: fromEnv };
  return stream.isTTY && stream.columns > 0 ? { width: stream.columns } : {};
}
