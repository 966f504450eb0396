// The codec thread's side (a worker_threads worker, see codec-thread.ts): hosts the sandboxes of
// every queued codec of the process and works through their jobs one input at a time, with no
// vm watchdog. Before each input it publishes which input it is on and since when, so the parent
// can end the thread when one runs past its limit.
import { parentPort } from 'node:worker_threads';
import { CodecSandbox, type OperationResult } from './sandbox';
import type { ThreadRequest, ThreadReply } from './codec-thread';

const port = parentPort;
if (!port) throw new Error('codec-thread-entry runs in a worker thread');

const sandboxes = new Map<number, CodecSandbox>();
let progress: Float64Array | undefined;

const now = (): number => performance.timeOrigin + performance.now();

port.on('message', (request: ThreadRequest) => {
  switch (request.t) {
    case 'init':
      progress = new Float64Array(request.progress);
      return;
    case 'load':
      try {
        sandboxes.set(request.id, new CodecSandbox(request.source, { ...request.options, watchdog: false }));
      } catch {
        // It loaded in the parent, which checked it first: its jobs get null and run there.
      }
      return;
    case 'drop':
      sandboxes.delete(request.id);
      return;
    case 'run': {
      const sandbox = sandboxes.get(request.id);
      const results: OperationResult[] = [];
      if (sandbox && progress) {
        for (let i = request.from; i < request.inputs.length; i++) {
          progress[0] = request.seq;
          progress[1] = i;
          progress[2] = now();
          results.push(sandbox.runAll(request.op, [request.inputs[i]])[0]);
        }
        progress[2] = 0;
      }
      // null: the codec did not load here; the parent answers from its own sandbox.
      port.postMessage({ t: 'done', seq: request.seq, results: sandbox ? results : null } satisfies ThreadReply);
      return;
    }
  }
});
