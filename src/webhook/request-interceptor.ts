import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

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
  /** Connections that have not sent complete headers yet, with the timer that cuts them. */
  unheard: Map<Socket, NodeJS.Timeout>;
  headersTimeout: number;
  onConnection: (socket: Socket) => void;
  /** A WebSocket (the editor's comms) sends its headers as an upgrade, not a request. */
  onUpgrade: (req: IncomingMessage) => void;
}

const tables = new WeakMap<Server, Table>();

function pathnameOf(url: string | undefined): string {
  const text = url ?? '/';
  const end = text.search(/[?#]/);
  return end < 0 ? text : text.slice(0, end);
}

/**
 * Registers a POST route on the server; returns the function that removes it. With
 * `headersTimeout` (ms), a new connection that has not sent complete request headers in that time
 * is closed: Node's own headersTimeout is 60 s and is only checked every 30 s, so a few hundred
 * slow clients could otherwise hold sockets for minutes.
 */
export function interceptPost(server: Server, route: InterceptedRoute, options: { headersTimeout?: number } = {}): () => void {
  let table = tables.get(server);
  if (!table) {
    const original = server.listeners('request') as RequestListener[];
    const unheard = new Map<Socket, NodeJS.Timeout>();
    const heard = (socket: Socket): void => {
      const timer = unheard.get(socket);
      if (timer) clearTimeout(timer);
      unheard.delete(socket);
    };
    const created: Table = {
      routes: new Set(),
      original,
      unheard,
      headersTimeout: 0,
      onConnection: (socket) => {
        if (created.headersTimeout <= 0) return;
        const timer = setTimeout(() => {
          unheard.delete(socket);
          socket.destroy();
        }, created.headersTimeout);
        timer.unref();
        unheard.set(socket, timer);
        socket.once('close', () => {
          clearTimeout(timer);
          unheard.delete(socket);
        });
      },
      onUpgrade: (req) => heard(req.socket),
      dispatch: (req, res) => {
        heard(req.socket);
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
    server.on('connection', table.onConnection);
    server.on('upgrade', table.onUpgrade);
    tables.set(server, table);
  }
  const current = table;
  if (options.headersTimeout !== undefined && options.headersTimeout > 0) current.headersTimeout = options.headersTimeout;
  current.routes.add(route);
  return () => {
    current.routes.delete(route);
    if (current.routes.size > 0 || tables.get(server) !== current) return;
    // The last route is gone: give the server back its own listeners.
    tables.delete(server);
    server.removeListener('request', current.dispatch);
    server.removeListener('connection', current.onConnection);
    server.removeListener('upgrade', current.onUpgrade);
    for (const timer of current.unheard.values()) clearTimeout(timer);
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
