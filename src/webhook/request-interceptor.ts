import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * A short path for webhook requests: the server's `request` event is answered here for the
 * routes registered, before Node-RED's express apps (the editor's app with its parsers and
 * routes, then the node app) see the request; everything else goes on to them unchanged.
 * Used only when no setting asks for express middleware on node routes (httpNodeAuth,
 * httpNodeMiddleware, httpNodeCors), which then need the ordinary route.
 */
export interface InterceptedRoute {
  /** Whether the request's path (without the query) belongs to this route. */
  matches(pathname: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

interface Table {
  routes: Set<InterceptedRoute>;
  original: RequestListener[];
  dispatch: RequestListener;
}

const tables = new WeakMap<Server, Table>();

function pathnameOf(url: string | undefined): string {
  const text = url ?? '/';
  const end = text.search(/[?#]/);
  return end < 0 ? text : text.slice(0, end);
}

/** Registers a POST route on the server; returns the function that removes it. */
export function interceptPost(server: Server, route: InterceptedRoute): () => void {
  let table = tables.get(server);
  if (!table) {
    const original = server.listeners('request') as RequestListener[];
    const created: Table = {
      routes: new Set(),
      original,
      dispatch: (req, res) => {
        if (req.method === 'POST') {
          const pathname = pathnameOf(req.url);
          for (const r of created.routes) {
            if (r.matches(pathname)) {
              r.handle(req, res);
              return;
            }
          }
        }
        for (const listener of created.original) listener.call(server, req, res);
      },
    };
    table = created;
    server.removeAllListeners('request');
    server.on('request', table.dispatch);
    tables.set(server, table);
  }
  const current = table;
  current.routes.add(route);
  return () => {
    current.routes.delete(route);
    if (current.routes.size > 0 || tables.get(server) !== current) return;
    // The last route is gone: give the server back its own listeners.
    tables.delete(server);
    server.removeListener('request', current.dispatch);
    for (const listener of current.original) server.on('request', listener);
  };
}

/** Answers with a JSON body using only node:http (works under express too). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
