// A script can leave a rejected promise behind (`Promise.reject()`, an un-awaited `import()`, an
// async helper that throws). Node reports those process-wide, and with no 'unhandledRejection'
// listener Node turns them into an uncaught exception, which makes Node-RED log and exit. So the
// first sandbox installs one listener that recognises promises made in a codec context (by their
// realm's intrinsic Promise.prototype) and reports them to that codec instead.
//
// Having a listener switches off Node's default "crash on unhandled rejection" for every promise,
// so for promises that are not ours the guard restores it: when it is the only listener and no
// --unhandled-rejections mode was chosen, it rethrows (Node's default 'throw' behaviour). When
// other listeners exist (a test runner, an application), they decide about promises that are not
// ours, as they would without us.

type Reporter = (message: string) => void;

const reporters = new WeakMap<object, Reporter>();
let installed = false;

function describe(reason: unknown): string {
  try {
    if (reason !== null && typeof reason === 'object' && 'message' in reason) {
      return `${String((reason as { name?: unknown }).name ?? 'Error')}: ${String((reason as { message?: unknown }).message)}`;
    }
    return String(reason);
  } catch {
    return 'a value that cannot be printed';
  }
}

function explicitMode(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.some((f) => f.startsWith('--unhandled-rejections'));
}

function onUnhandled(reason: unknown, promise: Promise<unknown>): void {
  const proto = Object.getPrototypeOf(promise) as object | null;
  const report = proto ? reporters.get(proto) : undefined;
  if (report) {
    report(`unhandled promise rejection in the script: ${describe(reason)}`);
    return;
  }
  if (process.listenerCount('unhandledRejection') === 1 && !explicitMode()) throw reason;
}

/** Registers a codec context's Promise.prototype; rejections from it go to `report`. */
export function guardRejections(promisePrototype: object, report: Reporter): void {
  reporters.set(promisePrototype, report);
  if (!installed) {
    installed = true;
    process.on('unhandledRejection', onUnhandled);
  }
}
