import type { IncomingMessage, ServerResponse } from 'node:http';

/** One request being answered: what a route reads, and what it tells the request log. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** The named groups of the route's path, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** Filled in by the route for the request log. */
  readonly note: { endpoint?: string; dataset?: string; fault?: string };
}

/**
 * A handler for one method and path pattern. The portal is a list of routes, so that other APIs
 * of a portal (the Push API's receiver, say) can be mounted next to the Explore API on one server.
 */
export interface Route {
  readonly method: string;
  readonly path: RegExp;
  handle(exchange: Exchange): void | Promise<void>;
}

export class Router {
  private readonly routes: Route[] = [];

  mount(routes: readonly Route[]): void {
    this.routes.push(...routes);
  }

  /** The route for a request, with its path parameters; undefined when none matches. */
  match(method: string, path: string): { route: Route; params: Record<string, string> } | 'wrong method' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.path.exec(path);
      if (match === null) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      for (const [name, value] of Object.entries(match.groups ?? {})) params[name] = safeDecode(value);
      return { route, params };
    }
    return pathMatched ? 'wrong method' : undefined;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
