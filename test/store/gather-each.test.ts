// The store's gatherEach option (on for PostgreSQL): a transaction of a few writes is followed by a
// gather for the writes that came in meanwhile, except while a device read waits for them. The
// gather's timer is faked (sinon): the test moves time, it never waits for it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sinon from 'sinon';
import type { WriteBatch, WriteBatchResult } from '../../src/store/backend';
import { SqliteBackend } from '../../src/store/sqlite-backend';
import { TtsStore } from '../../src/store/store';
import { T0, newDevice } from '../helpers/store-backends';

const GATHER = 60_000;

/** A SQLite backend whose transactions wait for `release()`, recording each batch's size. */
class GatedBackend extends SqliteBackend {
  readonly batches: number[] = [];
  private gate: Promise<void> | undefined;
  private open_: (() => void) | undefined;
  private started: (() => void) | undefined;

  hold(): Promise<void> {
    this.gate = new Promise((resolve) => (this.open_ = resolve));
    return new Promise((resolve) => (this.started = resolve));
  }

  release(): void {
    this.gate = undefined;
    this.open_?.();
  }

  override async writeBatch(batch: WriteBatch): Promise<WriteBatchResult> {
    this.batches.push(batch.devices.length + batch.readings.ts.length);
    this.started?.();
    this.started = undefined;
    if (this.gate) await this.gate;
    return super.writeBatch(batch);
  }
}

/** A few turns of the event loop (as many as the store needs to start a transaction it may start). */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('store gathering before every small transaction (gatherEach)', () => {
  let dir: string;
  let clock: sinon.SinonFakeTimers;
  let backend: GatedBackend;
  let store: TtsStore;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-gather-'));
    backend = new GatedBackend(path.join(dir, 's.db'));
    store = new TtsStore(backend, { gatherEach: true, gatherMs: GATHER, retentionInterval: 0 });
    await store.start();
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });

  afterEach(async () => {
    clock.restore();
    backend.release();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const reading = (i: number): Promise<unknown> => store.write({ bucket: 'b', ts: T0 + i, fCnt: i, data: { i } });

  it('writes that arrive during a transaction wait for the gather, then go in one', async () => {
    await store.ensureBucket('b');
    const started = backend.hold();
    const first = reading(0);
    clock.tick(GATHER);
    await started;
    const later = [reading(1), reading(2), reading(3)];
    backend.release();
    await first;
    await turns();
    assert.deepEqual(backend.batches, [1], 'the next transaction started without gathering');
    clock.tick(GATHER);
    await Promise.all(later);
    assert.deepEqual(backend.batches, [1, 3]);
  });

  it('a device read during a transaction waits for the device writes queued behind it, not for the gather', async () => {
    const started = backend.hold();
    const a = store.createDevice(newDevice({ id: 'd-a', deviceId: 'a', bucket: 'bkt-a' }));
    clock.tick(GATHER);
    await started;
    const b = store.writeDevice({ id: 'd-b', create: newDevice({ id: 'd-b', deviceId: 'b', bucket: 'bkt-b' }) });
    const read = store.getDevice('d-b');
    backend.release();
    assert.equal((await read)?.id, 'd-b');
    assert.equal((await a).created, true);
    assert.equal((await b).created, true);
    assert.deepEqual(backend.batches, [1, 1]);
  });
});
