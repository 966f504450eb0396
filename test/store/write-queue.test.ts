import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteBackend } from '../../src/store/sqlite-backend';
import { TtsStore } from '../../src/store/store';
import { WriteQueue, type WriteOutcome } from '../../src/store/write-queue';

function push(q: WriteQueue, i: number): Promise<WriteOutcome> {
  return q.push('b', -1, 1000 + i, i, 1, `{"i":${i}}`, null);
}

/** Settles to 'pending' when the promise has not settled by the next macrotask. */
async function stateOf(p: Promise<unknown>): Promise<string> {
  const pending = Symbol('pending');
  const winner = await Promise.race([p.then(() => 'resolved', () => 'rejected'), new Promise((r) => setImmediate(() => r(pending)))]);
  return winner === pending ? 'pending' : (winner as string);
}

describe('store write queue', () => {
  it('takes at most a batch of readings and of device writes, oldest first, and settles each write with its transaction', async () => {
    const q = new WriteQueue();
    const writes = Array.from({ length: 5 }, (_, i) => push(q, i));
    const device = q.pushDevice({ id: 'd1', sighting: { at: 1 } });
    const first = q.take(3);
    assert.deepEqual(first.rows.fCnt, [0, 1, 2]);
    assert.equal(first.devices.length, 1);
    assert.equal(q.length, 2);
    assert.equal(q.deviceLength, 0);
    first.committed([{ created: false }]);
    assert.deepEqual(await Promise.all(writes.slice(0, 3)), [{ queued: false }, { queued: false }, { queued: false }]);
    assert.deepEqual(await device, { created: false });
    assert.equal(await stateOf(writes[3]), 'pending');
    const rest = q.take(10);
    assert.deepEqual(rest.rows.fCnt, [3, 4]);
    rest.failed(new Error('refused'));
    await assert.rejects(writes[3], /refused/);
    await assert.rejects(writes[4], /refused/);
    assert.ok(q.empty);
  });

  it('splits a batch, device writes first, and drains with an error for every waiting caller', async () => {
    const q = new WriteQueue();
    const writes = Array.from({ length: 3 }, (_, i) => push(q, i));
    const devices = [q.pushDevice({ id: 'd1' }), q.pushDevice({ id: 'd2' })];
    const [a, b] = q.take(10).split(3);
    assert.deepEqual(a.devices.map((d) => d.id), ['d1', 'd2']);
    assert.deepEqual(a.rows.fCnt, [0]);
    assert.deepEqual(b.rows.fCnt, [1, 2]);
    assert.equal(b.devices.length, 0);
    a.committed([{ created: true }, { created: false }]);
    assert.deepEqual(await Promise.all(devices), [{ created: true }, { created: false }]);
    b.failed(new Error('bad'));
    await assert.rejects(writes[1], /bad/);
    const later = push(q, 9);
    assert.equal(q.drain(new Error('closing')), 1);
    await assert.rejects(later, /closing/);
    assert.equal(await stateOf(writes[0]), 'resolved');
  });

  it('through the store: a burst over several batches all commit, in order, each reported written', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-wq-'));
    const store = new TtsStore(new SqliteBackend(path.join(dir, 's.db')), { batchSize: 400, retentionInterval: 0 });
    try {
      await store.start();
      const outcomes = await Promise.all(
        Array.from({ length: 1500 }, (_, i) => store.write({ bucket: `b-${i % 7}`, ts: 1000 + i, fCnt: i, data: { i } })),
      );
      assert.ok(outcomes.every((o) => !o.queued));
      assert.equal(store.queued, 0);
      let total = 0;
      for (let b = 0; b < 7; b++) {
        const rows = (await store.query({ bucket: `b-${b}`, limit: 1000 })).rows;
        assert.deepEqual(
          rows.map((r) => r.data.i),
          rows.map((_, k) => b + 7 * k),
        );
        total += rows.length;
      }
      assert.equal(total, 1500);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
