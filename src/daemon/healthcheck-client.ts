/** Below Docker's HEALTHCHECK --timeout (5 s), so a hung daemon is reported by us, not by a kill. */
export const HEALTHCHECK_TIMEOUT_MS = 3_000;

/**
 * The client side of `dataspace-sync healthcheck` (the Docker HEALTHCHECK): GETs /healthz where
 * the config says the daemon listens. Resolves with the URL, rejects saying why not.
 */
export async function checkHealth(server: { readonly host: string; readonly port: number }, timeoutMs = HEALTHCHECK_TIMEOUT_MS): Promise<string> {
  if (server.port === 0) throw new Error('server.port is 0 (any free port): there is no known port to check');
  // A daemon listening on every interface is reached on loopback: the container checks itself.
  const host = server.host === '0.0.0.0' || server.host === '::' ? '127.0.0.1' : server.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${server.port}/healthz`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new Error(`${url}: no answer`, { cause: error });
  }
  await response.body?.cancel();
  if (response.status !== 200) throw new Error(`${url}: HTTP ${response.status}`);
  return url;
}
