// The SQLite backend in its worker thread: what the main thread sees of calls, errors, a thread
// that dies and a thread that cannot start. The whole store suite also runs through the thread
// (test/helpers/store-backends.ts); this covers what only the thread can do.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { StoreDataError, StoreUnavailableError } from '../../src/store/errors';
import { locationMoved } from '../../src/store/location-move';
import { SqliteThreadBackend, SqliteThreadStopped, sqliteThreadsRunning } from '../../src/store/sqlite-thread';
import { TtsStore, type StoreState } from '../../src/store/store';
import { BUILD_ROOT } from '../helpers/node-red-process';
import { T0, newDevice } from '../helpers/store-backends';

/** Resolves when the store is ready again; one promise (and listener) for every writer waiting. */
const readyAgain = new WeakMap<TtsStore, Promise<void>>();
function ready(store: TtsStore): Promise<void> {
  if (store.state.status === 'ready') return Promise.resolve();
  let waiting = readyAgain.get(store);
  if (!waiting) {
    waiting = new Promise<void>((resolve) => {
      const on = (s: StoreState): void => {
        if (s.status !== 'ready') return;
        store.off('state', on);
        readyAgain.delete(store);
        resolve();
      };
      store.on('state', on);
    });
    readyAgain.set(store, waiting);
  }
  return waiting;
}

/** Writes one reading as the durable inbox would: refused for an outage, it is written again once the store is back. */
async function writeUntilStored(store: TtsStore, i: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.write({ bucket: `b-${i % 7}`, ts: T0 + i, fCnt: i, fPort: 1, data: { i } });
      return attempt;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      await ready(store);
    }
  }
}

function readingCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM tts_readings').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('SQLite store in a worker thread', function () {
  this.timeout(60_000);
  let dir: string;
  let file: string;
  let store: TtsStore | undefined;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-sqlite-thread-'));
    file = path.join(dir, 'thread.db');
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function open(backend: SqliteThreadBackend, options: ConstructorParameters<typeof TtsStore>[1] = {}): TtsStore {
    store = new TtsStore(backend, { retentionInterval: 0, retryMin: 20, retryMax: 200, ...options });
    return store;
  }

  it('runs the backend in one thread and ends it when the store closes', async () => {
    const before = sqliteThreadsRunning();
    const backend = new SqliteThreadBackend(file);
    const s = open(backend);
    await s.start();
    assert.ok(backend.thread, 'a thread is running');
    assert.equal(backend.inProcess, false);
    assert.equal(sqliteThreadsRunning(), before + 1);
    const thread = backend.thread;
    const exited = new Promise<number>((resolve) => thread.once('exit', resolve));
    await s.write({ bucket: 'b', ts: T0, data: { a: 1 } });
    assert.equal((await s.query({ bucket: 'b' })).rows[0].data.a, 1);
    await s.close();
    await exited;
    assert.equal(backend.thread, undefined);
    assert.equal(sqliteThreadsRunning(), before);
    assert.equal(readingCount(file), 1);
  });

  it('applies the registry’s move rule in the thread, and refuses a rule it cannot send', async () => {
    const s = open(new SqliteThreadBackend(file));
    await s.start();
    await s.createDevice(newDevice());
    const here = { latitude: 52.0, longitude: 4.0, source: 'frm-payload', at: T0 + 1000 };
    const first = await s.recordSighting('dev-probe-01', { at: T0 + 1000, fCnt: 1, location: here, locationRank: 3, moved: locationMoved });
    assert.equal(first?.locationChanged, true);
    // 50 m away: under the rule's threshold (a plain comparison would call it a move).
    const near = { ...here, latitude: 52.00045, at: T0 + 2000 };
    const second = await s.recordSighting('dev-probe-01', { at: T0 + 2000, fCnt: 2, location: near, locationRank: 3, moved: locationMoved });
    assert.equal(second?.locationChanged, false);
    assert.equal(second?.device.location?.latitude, 52.0);
    const far = { ...here, latitude: 52.1, at: T0 + 3000 };
    const third = await s.recordSighting('dev-probe-01', { at: T0 + 3000, fCnt: 3, location: far, locationRank: 3, moved: locationMoved });
    assert.equal(third?.locationChanged, true);

    const ownRule = s.recordSighting('dev-probe-01', { at: T0 + 4000, fCnt: 4, location: here, locationRank: 3, moved: () => true });
    await assert.rejects(ownRule, (err: unknown) => err instanceof StoreDataError && /move rule/.test(err.message));
    assert.equal(s.state.status, 'ready', 'a refused write is no outage');
    assert.equal((await s.getDevice('dev-probe-01'))?.uplinkCount, 3);
  });

  it('carries errors across: data refusals stay refusals, with their message and code', async () => {
    const backend = new SqliteThreadBackend(file);
    const s = open(backend);
    await s.start();
    await s.createDevice(newDevice());
    const clash = s.createDevice(newDevice({ deviceId: 'probe-02' }));
    await assert.rejects(clash, (err: unknown) => err instanceof StoreDataError && /already belongs to device "probe-01"/.test(err.message));

    const db = new Database(file);
    db.exec(`CREATE TRIGGER refuse_99 BEFORE INSERT ON tts_readings WHEN NEW.f_port = 99 BEGIN SELECT RAISE(ABORT, 'port 99 is refused'); END`);
    db.close();
    const key = (await backend.getBucket('bkt-probe-01'))!.key;
    const refused = await backend
      .writeBatch({ devices: [], readings: { bucketKey: [key], ts: [T0], fCnt: [1], fPort: [99], data: ['{}'], radio: [null] } })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.ok(refused instanceof Error);
    assert.match(refused.message, /port 99 is refused/);
    assert.match(String((refused as { code?: unknown }).code), /^SQLITE_CONSTRAINT/);
    assert.equal(backend.isDataError(refused), true);

    // Posted, then the thread ends before it can answer: the call fails as an outage.
    const stopped = backend.getDevice('dev-probe-01');
    const ended = backend.stopThread('ended by the test');
    const outage = await stopped.then(
      () => undefined,
      (err: unknown) => err,
    );
    await ended;
    assert.ok(outage instanceof SqliteThreadStopped);
    assert.match(outage.message, /the SQLite thread stopped: ended by the test/);
    assert.equal(backend.isDataError(outage), false);
    assert.equal(backend.isDataError(new SqliteThreadStopped('exit code 1')), false);
  });

  it('a thread that dies mid-burst loses no write: its calls fail as an outage, the store retries, a new thread opens the file', async () => {
    const backend = new SqliteThreadBackend(file);
    const s = open(backend, { gatherMs: 0, batchSize: 200 });
    await s.start();
    const total = 3_000;
    // The fifth batch's thread is ended right after the batch was posted to it: whether it
    // committed or not, its answer never comes.
    const writeBatch = backend.writeBatch.bind(backend);
    let batches = 0;
    let killed: Promise<number> | undefined;
    backend.writeBatch = (batch) => {
      const answer = writeBatch(batch);
      if (++batches === 5) killed = backend.thread!.terminate();
      return answer;
    };
    const writers = Array.from({ length: 40 }, async (_, w) => {
      let retried = 0;
      for (let i = w; i < total; i += 40) if ((await writeUntilStored(s, i)) > 1) retried += 1;
      return retried;
    });
    const retried = (await Promise.all(writers)).reduce((a, b) => a + b, 0);
    assert.ok(killed, 'the thread was ended mid-burst');
    await killed;
    assert.ok(backend.started >= 2, `a new thread was started (${backend.started})`);
    assert.ok(retried > 0, 'some writes were refused as an outage and written again');
    assert.equal(s.state.status, 'ready');
    assert.equal(readingCount(file), total, 'every reading is stored, once');
    assert.equal(backend.inProcess, false, 'a thread that had run is restarted, not given up');
  });

  it('a thread that died while idle is replaced by the next call, which opens the file first', async () => {
    const backend = new SqliteThreadBackend(file);
    const s = open(backend);
    await s.start();
    await s.write({ bucket: 'b', ts: T0, fCnt: 1, data: { a: 1 } });
    const thread = backend.thread!;
    await thread.terminate();
    assert.equal(backend.thread, undefined);
    await s.write({ bucket: 'b', ts: T0 + 1, fCnt: 2, data: { a: 2 } });
    assert.equal(backend.started, 2);
    assert.equal((await s.bucketStats('b'))?.rows, 2);
    assert.equal(s.state.status, 'ready', 'nothing was outstanding: no outage');
  });

  it('runs in the event loop when no thread can start, with the same results', async () => {
    const before = sqliteThreadsRunning();
    const backend = new SqliteThreadBackend(file, { entry: path.join(dir, 'missing-entry.js') });
    const s = open(backend);
    await s.start();
    assert.equal(backend.inProcess, true);
    assert.equal(backend.thread, undefined);
    assert.equal(sqliteThreadsRunning(), before);
    await s.createDevice(newDevice());
    await s.write({ bucket: 'bkt-probe-01', ts: T0, fCnt: 1, data: { a: 1 } });
    assert.equal((await s.findDevice('farm-sensors', 'probe-01'))?.id, 'dev-probe-01');
    assert.equal((await s.query({ bucket: 'bkt-probe-01' })).rows.length, 1);
    await assert.rejects(s.createDevice(newDevice({ deviceId: 'probe-02' })), StoreDataError);
  });

  it('an entry that fails as it loads counts as no thread too', async () => {
    const entry = path.join(dir, 'broken-entry.js');
    fs.writeFileSync(entry, "throw new Error('this platform has no worker threads');\n");
    const backend = new SqliteThreadBackend(file, { entry });
    const s = open(backend);
    await s.start();
    assert.equal(backend.inProcess, true);
    await s.write({ bucket: 'b', ts: T0, data: { a: 1 } });
    assert.equal(readingCount(file), 1);
  });

  it('an idle thread keeps no process from exiting, even with the store left open', async () => {
    const script = `
      const { createStore } = require(${JSON.stringify(path.join(BUILD_ROOT, 'src', 'store'))});
      const store = createStore({ backend: 'sqlite', path: ${JSON.stringify(file)} });
      store.start()
        .then(() => store.write({ bucket: 'b', ts: 1, data: { a: 1 } }))
        .then(() => console.log('stored, thread running: ' + (store.backend.thread !== undefined)));
    `;
    // The time limit only bounds a failure: a process kept alive by its thread is killed, and fails.
    const { stdout: out } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 30_000 });
    assert.equal(out.trim(), 'stored, thread running: true');
    assert.equal(readingCount(file), 1);
  });
});
