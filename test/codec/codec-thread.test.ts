import assert from 'node:assert/strict';
import { createCodec, type DecodeResult } from '../../src/codec';
import sinon from 'sinon';
import { codecThread } from '../../src/codec/sandbox/codec-thread';

const PORT_ECHO = 'function decodeUplink(i) { if (i.fPort === 9) for (;;) {} return { data: { port: i.fPort, bytes: i.bytes, at: i.recvTime ? i.recvTime.toISOString() : null } }; }';

const portOf = (r: DecodeResult): unknown => r.data?.port ?? r.error?.kind;

/** Resolves on the event loop's next check phase. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('codec thread: queued decodes off the event loop', () => {
  it('decodes queued inputs in the thread with the inputs as given (bytes, fPort, recvTime)', async () => {
    const codec = createCodec(PORT_ECHO);
    try {
      const when = new Date('2026-03-04T05:06:07.000Z');
      const results = await Promise.all([1, 2, 3].map((fPort) => codec.decodeUplinkQueued({ bytes: Buffer.from([fPort, 0xff]), fPort, recvTime: when })));
      assert.deepEqual(results.map((r) => r.data), [1, 2, 3].map((port) => ({ port, bytes: [port, 255], at: when.toISOString() })));
      assert.equal(codecThread().running, true);
    } finally {
      codec.close();
    }
  });

  it('keeps the event loop turning while a script loops, then fails only that input with a timeout', async () => {
    const codec = createCodec(PORT_ECHO, { timeout: 300 });
    try {
      assert.equal(portOf(await codec.decodeUplinkQueued({ bytes: [], fPort: 1 })), 1);
      const restartsBefore = codecThread().started;
      let settled = false;
      const looping = codec.decodeUplinkQueued({ bytes: [], fPort: 9 }).finally(() => {
        settled = true;
      });
      const after = codec.decodeUplinkQueued({ bytes: [], fPort: 4 });
      // In the event loop, the protected run would hold it until the watchdog fired.
      await nextTurn();
      await nextTurn();
      assert.equal(settled, false, 'the loop held the event loop');
      const [stuck, next] = await Promise.all([looping, after]);
      assert.equal(stuck.error?.kind, 'timeout');
      assert.match(stuck.errors[0] ?? '', /did not finish within 300 ms/);
      assert.equal(portOf(next), 4);
      assert.equal(codecThread().started, restartsBefore + 1, 'a fresh thread took over');
      assert.equal(portOf(await codec.decodeUplinkQueued({ bytes: [], fPort: 5 })), 5);
    } finally {
      codec.close();
    }
  });

  it('hands results out in the order of the calls, across batches and a restart', async () => {
    const codec = createCodec(PORT_ECHO, { timeout: 50 });
    try {
      const order: unknown[] = [];
      const calls: Array<Promise<unknown>> = [];
      const queue = (fPort: number): void => {
        calls.push(codec.decodeUplinkQueued({ bytes: [], fPort }).then((r) => order.push(portOf(r))));
      };
      queue(1);
      queue(9);
      await nextTurn();
      queue(2);
      await nextTurn();
      queue(9);
      queue(3);
      await Promise.all(calls);
      assert.deepEqual(order, [1, 'timeout', 2, 'timeout', 3]);
    } finally {
      codec.close();
    }
  });

  it('sends the decodes that arrive while a job is out as one job once it is answered', async () => {
    const codec = createCodec(PORT_ECHO, { timeout: 1000 });
    const run = sinon.spy(codecThread(), 'run');
    try {
      assert.equal(portOf(await codec.decodeUplinkQueued({ bytes: [], fPort: 1 })), 1);
      await nextTurn(); // the queue has seen that answer through
      // The looping input keeps its job out until its limit: the next ones, each queued in an
      // event-loop turn of its own, wait for it and go together.
      const calls = [codec.decodeUplinkQueued({ bytes: [], fPort: 9 })];
      while (run.callCount < 2) await new Promise((resolve) => setTimeout(resolve, 1));
      for (const fPort of [2, 3, 4, 5]) {
        await nextTurn();
        calls.push(codec.decodeUplinkQueued({ bytes: [], fPort }));
      }
      assert.deepEqual((await Promise.all(calls)).map(portOf), ['timeout', 2, 3, 4, 5]);
      assert.deepEqual(run.getCalls().map((call) => call.args[2].length), [1, 1, 4]);
      // Everything queued in one turn goes as one job.
      const full = await Promise.all(Array.from({ length: 20 }, (_, i) => codec.decodeUplinkQueued({ bytes: [], fPort: 10 + i })));
      assert.deepEqual(full.map(portOf), Array.from({ length: 20 }, (_, i) => 10 + i));
      assert.deepEqual(run.getCalls().slice(3).map((call) => call.args[2].length), [20]);
    } finally {
      run.restore();
      codec.close();
    }
  });

  it('gives each codec its own state and scope, several codecs in one thread', async () => {
    const counting = (name: string): string => `var n = 0; function decodeUplink(i) { n += 1; globalThis.seen = (globalThis.seen || 0) + 1; return { data: { name: ${JSON.stringify(name)}, n: n, seen: globalThis.seen } }; }`;
    const a = createCodec(counting('a'));
    const b = createCodec(counting('b'), { freshScope: false });
    try {
      const results = await Promise.all([a, b, a, b].map((codec) => codec.decodeUplinkQueued({ bytes: [] })));
      assert.deepEqual(
        results.map((r) => r.data),
        [
          { name: 'a', n: 1, seen: 1 },
          { name: 'b', n: 1, seen: 1 },
          { name: 'a', n: 1, seen: 1 },
          { name: 'b', n: 2, seen: 2 },
        ],
      );
    } finally {
      a.close();
      b.close();
    }
  });

  it('ends the thread when the last codec that used it is closed', async () => {
    const codec = createCodec(PORT_ECHO);
    assert.equal(portOf(await codec.decodeUplinkQueued({ bytes: [], fPort: 1 })), 1);
    assert.equal(codecThread().running, true);
    codec.close();
    assert.equal(codecThread().running, false);
  });
});
