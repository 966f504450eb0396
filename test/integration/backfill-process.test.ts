import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { timestampNanos } from '../../src/tts/timestamps';
import { TtsSimulator } from '../../src/sim';
import { NodeRedProcess } from '../helpers/node-red-process';
import { pipelineFlow, sqliteStoredCounts, type StoredCounts } from '../helpers/pipeline';

const APP = 'backfill-process';
const TOKEN = 'backfill-process-token-0123456789';

async function storedUntil(file: string, rows: number): Promise<StoredCounts> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    let counts: StoredCounts = new Map();
    try {
      counts = sqliteStoredCounts(file);
    } catch {
      // not created yet
    }
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    if (total >= rows || Date.now() > deadline) return counts;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('backfill in a real Node-RED process: stopped (SIGTERM) while TTS keeps sending, then started again', function () {
  this.timeout(120_000);
  let sim: TtsSimulator;
  let red: NodeRedProcess;

  before(async function () {
    sim = new TtsSimulator({
      applicationId: APP,
      devices: [
        { deviceId: 'th-1', payload: 'temperature-humidity' },
        { deviceId: 'th-2', payload: 'temperature-humidity' },
      ],
      storageIntegration: true,
    });
    await sim.start();
    const { flows, credentials } = pipelineFlow({ token: TOKEN, applicationId: APP, store: { backend: 'sqlite', path: 'backfill.db' } });
    const profile = flows.find((n) => n.type === 'tts-profile')!;
    Object.assign(profile, { server: sim.url, backfill: true, backfillMaxHours: '24' });
    credentials[profile.id] = { ...credentials[profile.id], apiKey: sim.apiKey };
    red = new NodeRedProcess({ flows, credentials });
    await red.start();
    sim.configureWebhook({ url: red.nodeUrl('/tts'), token: TOKEN, messageTypes: ['uplink_message'] });
  });
  after(async function () {
    await red?.stop();
    await sim?.stop();
  });

  it('stores the uplinks of the downtime once each, and says so in the log', async function () {
    const store = join(red.userDir, 'backfill.db');
    for (let i = 0; i < 4; i++) assert.equal((await sim.sendUplink())[0].status, 200);
    assert.equal([...(await storedUntil(store, 4)).values()].length, 4);

    await red.kill('SIGTERM');
    const lost = [];
    for (let i = 0; i < 6; i++) {
      const [post] = await sim.sendUplink();
      assert.ok(!post.ok, 'TTS cannot deliver while Node-RED is down');
      lost.push(`${post.deviceId}/${post.body.uplink_message!.f_cnt ?? 0}`);
    }

    const from = red.logs.length;
    await red.start();
    const finished = await red.waitForLog(/backfill of backfill-process: \d+ uplinks fed in as replays/, from, 30_000);
    assert.match(finished, /: 6 uplinks fed in as replays/);
    const counts = await storedUntil(store, 10);
    for (const key of lost) assert.equal(counts.get(key), 1, `${key} stored once`);
    assert.deepEqual([...counts.values()].filter((n) => n !== 1), [], 'nothing stored twice');
    assert.equal(counts.size, 10);
    assert.ok(!red.logs.join('\n').includes(sim.apiKey), 'no API key in the log');

  });

  it('after kill -9 as well, once the state file had caught up with the live uplinks', async function () {
    const store = join(red.userDir, 'backfill.db');
    const state = join(red.userDir, 'tts-backfill.json');
    const before = [...sqliteStoredCounts(store).values()].length;
    let newest = '';
    for (let i = 0; i < 3; i++) {
      const [post] = await sim.sendUplink();
      assert.equal(post.status, 200);
      newest = post.body.received_at!;
    }
    await storedUntil(store, before + 3);
    // The state is written every 2 s: wait until it holds the newest live uplink, then crash.
    const deadline = Date.now() + 20_000;
    const caughtUp = (): boolean => {
      if (!existsSync(state)) return false;
      const lastSeen = (JSON.parse(readFileSync(state, 'utf8')) as { applications: Record<string, { lastSeen: string }> }).applications[APP]?.lastSeen;
      return lastSeen !== undefined && timestampNanos(lastSeen)! >= timestampNanos(newest)!;
    };
    while (!caughtUp() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(caughtUp(), 'state file written');
    await red.kill('SIGKILL');

    const lost = [];
    for (let i = 0; i < 4; i++) {
      const [post] = await sim.sendUplink();
      assert.ok(!post.ok);
      lost.push(`${post.deviceId}/${post.body.uplink_message!.f_cnt ?? 0}`);
    }
    const from = red.logs.length;
    await red.start();
    const finished = await red.waitForLog(/backfill of backfill-process: \d+ uplinks fed in as replays/, from, 30_000);
    assert.match(finished, /: 4 uplinks fed in as replays/);
    const counts = await storedUntil(store, before + 7);
    for (const key of lost) assert.equal(counts.get(key), 1, `${key} stored once`);
    assert.deepEqual([...counts.values()].filter((n) => n !== 1), []);
    assert.equal(counts.size, before + 7);
  });
});
