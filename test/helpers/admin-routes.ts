/**
 * Loads a node module into a stub RED that records its admin routes and the permission each
 * one asks for. node-red-node-test-helper lets every request through, so permission strings
 * can only be checked this way.
 */
export interface RecordedRoute {
  route: string;
  /** The permission of the guard placed first on the route, if any. */
  permission?: string;
}

export function adminRoutesOf(nodeModule: unknown): { types: string[]; routes: RecordedRoute[] } {
  const types: string[] = [];
  const routes: RecordedRoute[] = [];
  const guards = new Map<unknown, string>();
  const record = (method: string) => (path: string, ...handlers: unknown[]) => {
    routes.push({ route: `${method} ${path}`, permission: guards.get(handlers[0]) });
  };
  const stubRed = {
    nodes: { registerType: (type: string) => types.push(type), createNode() {} },
    auth: {
      needsPermission: (permission: string) => {
        const guard = (): void => undefined;
        guards.set(guard, permission);
        return guard;
      },
    },
    httpAdmin: { get: record('get'), post: record('post'), put: record('put'), delete: record('delete') },
    _: (key: string) => key,
    util: {},
    settings: {},
  };
  (nodeModule as (red: unknown) => void)(stubRed);
  return { types, routes };
}
