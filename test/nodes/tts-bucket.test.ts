import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeAPI } from 'node-red';
import bucketModule = require('../../nodes/tts-bucket/tts-bucket');
import type { TtsStoreNode } from '../../nodes/tts-store/types';
import { catchNode, helperNode } from '../helpers/flows';
import { loadFlow, nodeRedHelper, unloadFlow, waitForCall } from '../helpers/runtime';
import { registerHolder } from '../../src/runtime';
import { MODULES, STORE_TARGETS, bucketNode, messages, runtimeSettings, storeNode, type StoreTarget } from '../helpers/store-flows';

const T0 = Date.UTC(2025, 2, 14, 9, 0, 0);

for (const kind of STORE_TARGETS) {
  describe(`tts-bucket on ${kind.name}`, () => {
    let target: StoreTarget;

    before(async () => {
      await nodeRedHelper().startServer();
    });
    after(async () => {
      await nodeRedHelper().stopServer();
    });
    beforeEach(async () => {
      target = await kind.create();
    });
    afterEach(async () => {
      await unloadFlow();
      await target.cleanup();
    });

    async function load(bucketOverrides: Record<string, unknown> = {}) {
      const store = target.node();
      const out = helperNode();
      const errors = helperNode();
      const writer = bucketNode(store.def.id, { bucket: 'fixed', wires: [[out.id]], maxRows: '3' });
      const reader = bucketNode(store.def.id, { mode: 'query', bucket: 'fixed', wires: [[out.id]], ...bucketOverrides });
      await loadFlow(MODULES, [store.def, writer, reader, out, errors, catchNode([[errors.id]])], { [store.def.id]: store.creds });
      const h = nodeRedHelper();
      return {
        h,
        storeId: store.def.id,
        store: (h.getNode(store.def.id) as unknown as TtsStoreNode).store!,
        writer: h.getNode(writer.id),
        reader: h.getNode(reader.id),
        out: h.getNode(out.id),
        errors: h.getNode(errors.id),
      };
    }

    async function writeSome(n: ReturnType<typeof load> extends Promise<infer T> ? T : never, count: number) {
      const got = messages(n.out, count);
      for (let i = 0; i < count; i++) {
        n.writer.receive({
          payload: { temperature: 20 + i, humidity: 50, label: 'x', nested: { v: i } },
          tts: { type: 'uplink_message', received_at: new Date(T0 + i * 1000).toISOString(), f_cnt: i, f_port: 1, application_id: 'a', device_id: 'd', message: {} },
        });
      }
      return got;
    }

    it('sends a reading the database refuses to Catch with the reason, and stores the rest of its batch', async () => {
      const n = await load();
      await n.store.start(); // migrated
      // A rule of the database (a trigger here) refuses readings carrying "bad".
      if (kind.name === 'sqlite') {
        await target.exec(`CREATE TRIGGER refuse_bad BEFORE INSERT ON tts_readings WHEN json_extract(NEW.data, '$.bad') IS NOT NULL
          BEGIN SELECT RAISE(ABORT, 'bad readings are refused'); END`);
      } else {
        await target.exec(`CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF NEW.data->>'bad' IS NOT NULL THEN RAISE EXCEPTION 'bad readings are refused' USING ERRCODE = 'check_violation'; END IF;
          RETURN NEW; END $$;
          CREATE TRIGGER refuse_bad BEFORE INSERT ON tts_readings FOR EACH ROW EXECUTE FUNCTION refuse_bad()`);
      }
      const got = messages(n.out, 5);
      const caught = messages(n.errors, 1);
      for (let i = 0; i < 6; i++) {
        n.writer.receive({
          payload: i === 3 ? { bad: true } : { i },
          tts: { type: 'uplink_message', received_at: new Date(T0 + i * 1000).toISOString(), f_cnt: i, f_port: 1, application_id: 'a', device_id: 'd', message: {} },
        });
      }
      const [err] = await caught;
      assert.match(err.error.message, /the store refused it: .*bad readings are refused/);
      assert.deepEqual(err.payload, { bad: true });
      const passed = await got;
      assert.deepEqual(
        passed.map((m) => m.payload.i).sort(),
        [0, 1, 2, 4, 5],
      );
      assert.equal((await n.store.bucketStats('fixed'))?.rows, 5);
      assert.equal(n.store.state.status, 'ready');
    });

    it('writes to the node’s bucket with the uplink time, then queries rows, last N, ranges and pages', async () => {
      const n = await load({ limit: '2' });
      const written = await writeSome(n, 3);
      assert.equal(written[0].stored.bucket, 'fixed');
      assert.equal(written[0].stored.time, '2025-03-14T09:00:00.000Z');
      const q1 = messages(n.out, 1);
      n.reader.receive({});
      const [page1] = await q1;
      assert.deepEqual(page1.payload, [
        { time: '2025-03-14T09:00:00.000Z', f_cnt: 0, f_port: 1, data: { temperature: 20, humidity: 50, label: 'x', nested: { v: 0 } } },
        { time: '2025-03-14T09:00:01.000Z', f_cnt: 1, f_port: 1, data: { temperature: 21, humidity: 50, label: 'x', nested: { v: 1 } } },
      ]);
      assert.deepEqual(page1.next, { ts: T0 + 1000, fCnt: 1 });
      const q2 = messages(n.out, 1);
      n.reader.receive({ after: page1.next });
      const [page2] = await q2;
      assert.deepEqual(
        page2.payload.map((r: any) => r.f_cnt),
        [2],
      );
      assert.equal(page2.next, undefined);
      const q3 = messages(n.out, 1);
      n.reader.receive({ last: 2 });
      assert.deepEqual(
        (await q3)[0].payload.map((r: any) => r.f_cnt),
        [1, 2],
      );
      const q4 = messages(n.out, 1);
      n.reader.receive({ from: '2025-03-14T09:00:01Z', to: T0 + 1000 });
      assert.deepEqual(
        (await q4)[0].payload.map((r: any) => r.f_cnt),
        [1],
      );
    });

    it('returns Dashboard 2.0 chart points, per numeric field, chosen by msg.format or config', async () => {
      const n = await load({ format: 'chart' });
      await writeSome(n, 2);
      const q = messages(n.out, 1);
      n.reader.receive({ fields: ['temperature', 'nested.v'] });
      const [chart] = await q;
      assert.deepEqual(chart.payload, [
        { series: 'temperature', x: T0, y: 20 },
        { series: 'nested.v', x: T0, y: 0 },
        { series: 'temperature', x: T0 + 1000, y: 21 },
        { series: 'nested.v', x: T0 + 1000, y: 1 },
      ]);
      const r = messages(n.out, 1);
      n.reader.receive({ format: 'rows', limit: 1 });
      assert.equal((await r)[0].payload[0].f_cnt, 0);
    });

    it('applies the writer’s retention in the background', async () => {
      const n = await load();
      await writeSome(n, 5);
      assert.deepEqual((await n.store.getBucket('fixed'))?.retention, { maxRows: 3 });
      assert.equal(await n.store.enforceRetention(), 2);
      assert.equal((await n.store.bucketStats('fixed'))?.rows, 3);
    });

    it('reports bad queries as errors a Catch node sees', async () => {
      const n = await load();
      await writeSome(n, 1);
      for (const [msg, pattern] of [
        [{ from: 'yesterday-ish' }, /msg.from is not a time/],
        [{ format: 'table' }, /tts-bucket.errors.format/],
        [{ bucket: 'nope' }, /bucket "nope" does not exist/],
        [{ limit: 0 }, /msg.limit must be a whole number/],
      ] as const) {
        const caught = messages(n.errors, 1);
        n.reader.receive(msg);
        assert.match((await caught)[0].error.message, pattern);
      }
      // The one failure mapping: bad input shows as a refusal, with its code.
      assert.deepEqual(n.reader.status.lastCall?.args[0], { fill: 'red', shape: 'ring', text: 'tts-bucket.failure.invalid' });
    });

    it('streams a CSV and a JSON lines export through the admin route', async () => {
      const n = await load();
      await writeSome(n, 3);
      const csv = await n.h.request().get(`/tts/bucket/${n.storeId}/fixed/export?format=csv`).expect(200);
      assert.match(String(csv.headers['content-type']), /text\/csv/);
      assert.match(String(csv.headers['content-disposition']), /attachment; filename="fixed.csv"/);
      assert.equal(csv.text.split('\r\n')[0], 'time,f_cnt,f_port,temperature,humidity,label,nested,other');
      assert.equal(csv.text.split('\r\n')[1], '2025-03-14T09:00:00.000Z,0,1,20,50,x,"{""v"":0}",');
      const jsonl = await n.h.request().get(`/tts/bucket/${n.storeId}/fixed/export?format=jsonl&from=${T0 + 1000}`).expect(200);
      assert.deepEqual(
        jsonl.text
          .trim()
          .split('\n')
          .map((l: string) => JSON.parse(l).f_cnt),
        [1, 2],
      );
      await n.h.request().get(`/tts/bucket/${n.storeId}/missing/export`).expect(404);
      await n.h.request().get(`/tts/bucket/${n.storeId}/fixed/export?format=xml`).expect(400);
      await n.h.request().get('/tts/bucket/no-such-store/fixed/export').expect(404);
      const list = await n.h.request().get(`/tts/bucket/${n.storeId}/buckets`).expect(200);
      assert.deepEqual(
        list.body.buckets.map((b: { id: string }) => b.id),
        ['fixed'],
      );
    });
  });
}

describe('tts-bucket admin routes', () => {
  it('require tts-bucket.read', () => {
    const permissions: string[] = [];
    const routes: string[] = [];
    const fakeRed = {
      nodes: { registerType: () => undefined, getNode: () => null },
      auth: {
        needsPermission: (p: string) => {
          permissions.push(p);
          return () => undefined;
        },
      },
      httpAdmin: { get: (route: string) => routes.push(route) },
    } as unknown as NodeAPI;
    bucketModule(fakeRed);
    assert.deepEqual(routes, ['/tts/bucket/:store/buckets', '/tts/bucket/:store/:bucket/export']);
    assert.deepEqual(permissions, ['tts-bucket.read', 'tts-bucket.read']);
  });
});

describe('tts-bucket with an unreachable store', () => {
  let root: string;
  before(async () => {
    await nodeRedHelper().startServer();
  });
  after(async () => {
    await nodeRedHelper().stopServer();
  });
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-bucket-down-'));
    runtimeSettings({ userDir: root, ttsStoreQueueLimit: 2 });
  });
  afterEach(async () => {
    await unloadFlow();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('hands messages back to their inbox with a clear status while the store is unreachable, fails those from no inbox, writes again when it is back', async () => {
    const store = storeNode({ backend: 'sqlite', path: 'later/data.db' });
    const out = helperNode();
    const errors = helperNode();
    const writer = bucketNode(store.id, { bucket: 'b', wires: [[out.id]] });
    await loadFlow(MODULES, [store, writer, out, errors, catchNode([[errors.id]])]);
    const h = nodeRedHelper();
    const storeNodeRt = h.getNode(store.id) as unknown as TtsStoreNode;
    const down = storeNodeRt.store!.state.status === 'unavailable' ? undefined : new Promise((resolve) => storeNodeRt.store!.once('state', resolve));
    await down;
    assert.match(JSON.stringify(storeNodeRt.store!.state), /unavailable.*(directory|open)/i);
    const w = h.getNode(writer.id);
    // An inbox that takes back the messages marked as its own.
    const held: Array<{ msg: { payload: unknown }; reason: string }> = [];
    let twoHeld!: () => void;
    const bothHeld = new Promise<void>((resolve) => (twoHeld = resolve));
    const unregister = registerHolder({
      hold: (msg, reason) => {
        if (!(msg as { fromInbox?: boolean }).fromInbox) return false;
        held.push({ msg: msg as { payload: unknown }, reason });
        if (held.length === 2) twoHeld();
        return true;
      },
    });
    try {
      const passed: unknown[] = [];
      h.getNode(out.id).on('input', (m: unknown) => passed.push(m));
      w.receive({ payload: { a: 1 }, fromInbox: true });
      w.receive({ payload: { a: 2 }, fromInbox: true });
      await bothHeld;
      await waitForCall(w, 'status', (args) => (args[0] as { text?: string }).text === 'tts-bucket.status.held');
      const caught = messages(h.getNode(errors.id), 1);
      w.receive({ payload: { a: 3 } });
      assert.match((await caught)[0].error.message, /store unavailable: .*(directory|open)/i);
      assert.deepEqual(
        held.map((x) => x.msg.payload),
        [{ a: 1 }, { a: 2 }],
      );
      assert.match(held[0].reason, /directory|open/i);
      assert.equal(passed.length, 0);
      await waitForCall(w, 'warn', (args) => /tts-bucket.warn.held/.test(String(args[0])));
      const ready = new Promise<void>((resolve) => storeNodeRt.store!.on('state', (s: { status: string }) => s.status === 'ready' && resolve()));
      fs.mkdirSync(path.join(root, 'later'));
      await ready;
      // The inbox feeds the held messages again: now they are stored and passed on.
      const got = messages(h.getNode(out.id), 2);
      for (const x of held) w.receive(x.msg);
      const msgs = await got;
      assert.ok(msgs.every((m) => m.stored.queued === false));
      assert.equal((await storeNodeRt.store!.bucketStats('b'))?.rows, 2);
    } finally {
      unregister();
    }
  });
});
