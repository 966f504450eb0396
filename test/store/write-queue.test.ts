import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteBackend } from '../../src/store/sqlite-backend';
import { TtsStore } from '../../src/store/store';
import { WriteQueue, type WriteOutcome } from '../../src/store/write-queue';

function push(q: WriteQueue, i: number, reportQueued = false): Promise<WriteOutcome> {
  return q.push('b', -1, 1000 + i, i, 1, `{"i":${i}}`, null, reportQueued);
}

/** Settles to 'pending' when the promise has not settled by the next macrotask. */
async function stateOf(p: Promise<unknown>): Promise<string> {
  const pending = Symbol('pending');
  const winner = await Promise.race([p.then(() => 'resolved', () => 'rejected'), new Promise((r) => setImmediate(() => r(pending)))]);
  return winner === pending ? 'pending' : (winner as string);
}

describe('store write queue', () => {
  it('takes whole groups, never more than a batch, and settles each group with its transaction', async () => {
    const q = new WriteQueue(3);
    const promises = Array.from({ length: 7 }, (_, i) => push(q, i));
    // Groups of at most 3: [0,1,2] [3,4,5] [6].
    assert.equal(promises[0], promises[2]);
    assert.notEqual(promises[2], promises[3]);
    const first = q.take(5);
    assert.equal(first.count, 3, 'a second group would not fit in 5');
    assert.deepEqual(first.rows.ts, [1000, 1001, 1002]);
    assert.deepEqual(first.rows.data, ['{"i":0}', '{"i":1}', '{"i":2}']);
    const joins = push(q, 7);
    assert.equal(joins, promises[6], 'the group not taken yet still takes readings');
    q.committed(first);
    assert.deepEqual(await promises[0], { queued: false });
    assert.equal(await stateOf(promises[3]), 'pending');
    assert.equal(q.length, 5);
    const rest = q.take(10);
    assert.equal(rest.count, 5);
    assert.deepEqual(rest.rows.fCnt, [3, 4, 5, 6, 7]);
    // A reading arriving while the batch is in flight does not join a taken group.
    const late = push(q, 8);
    assert.notEqual(late, joins);
    q.committed(rest);
    assert.deepEqual(await joins, { queued: false });
    assert.equal(await stateOf(late), 'pending');
    assert.equal(q.length, 1);
  });

  it('reports waiting readings as queued once, rejects refused batches, and counts what is lost on close', async () => {
    const q = new WriteQueue(100);
    const waiting = push(q, 0);
    q.reportAllQueued();
    assert.deepEqual(await waiting, { queued: true });
    // Written while unreachable: told at once, in a group of its own kind.
    const whileDown = push(q, 1, true);
    assert.deepEqual(await whileDown, { queued: true });
    const afterBack = push(q, 2);
    assert.notEqual(afterBack, whileDown);
    const batch = q.take(100);
    assert.equal(batch.count, 3);
    const untold = q.refused(batch, new Error('bad row'));
    assert.equal(untold, 2, 'two readings had been reported as queued');
    await assert.rejects(afterBack, /bad row/);
    const a = push(q, 3);
    const b = push(q, 4, true);
    assert.equal(q.drain(new Error('closed')), 1);
    await assert.rejects(a, /closed/);
    assert.deepEqual(await b, { queued: true });
    assert.equal(q.length, 0);
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
