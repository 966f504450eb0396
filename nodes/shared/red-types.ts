import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { Request, Response, NextFunction, Router } from 'express';

export type { NodeAPI };
export type Handler = (req: Request, res: Response, next: NextFunction) => void;

/** RED.auth is typed loosely by @types/node-red; this is what admin routes use. */
export function needsPermission(RED: NodeAPI, permission: string): Handler {
  return (RED.auth).needsPermission(permission);
}

/** Express 4 keeps the router at app._router, express 5 at app.router. */
export function routerOf(app: unknown): Router & { stack: Array<{ route?: { path: unknown; methods: Record<string, boolean> } }> } | undefined {
  const candidate = app as { _router?: unknown; router?: unknown };
  return (candidate._router ?? candidate.router) as ReturnType<typeof routerOf>;
}

type RegisterOptions = NonNullable<Parameters<NodeAPI['nodes']['registerType']>[2]>;

/**
 * Registers a node type whose constructor is typed with this package's node and config
 * interfaces. @types/node-red cannot infer its credential generic from them, so the one cast
 * that bridges the two lives here instead of in every node file.
 */
export function registerNode<TNode extends Node, TDef extends NodeDef>(
  RED: NodeAPI,
  type: string,
  constructor: (this: TNode, config: TDef) => void,
  options?: RegisterOptions,
): void {
  RED.nodes.registerType(type, constructor as unknown as Parameters<NodeAPI['nodes']['registerType']>[1], options);
}
