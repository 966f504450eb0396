import type { NodeAPI } from 'node-red';
import type { Request, Response, NextFunction, Router } from 'express';

export type { NodeAPI };
export type Handler = (req: Request, res: Response, next: NextFunction) => void;

/** RED.auth is typed loosely by @types/node-red; this is what admin routes use. */
export function needsPermission(RED: NodeAPI, permission: string): Handler {
  return (RED.auth as unknown as { needsPermission(p: string): Handler }).needsPermission(permission);
}

/** Express 4 keeps the router at app._router, express 5 at app.router. */
export function routerOf(app: unknown): Router & { stack: Array<{ route?: { path: unknown; methods: Record<string, boolean> } }> } | undefined {
  const candidate = app as { _router?: unknown; router?: unknown };
  return (candidate._router ?? candidate.router) as ReturnType<typeof routerOf>;
}
