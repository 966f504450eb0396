import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TtsSimulator } from '../../src/sim';
import { NodeRedProcess, REPO_ROOT } from '../helpers/node-red-process';

// What `npm start` runs: every example flow in one Node-RED, fed by the simulator through one
// webhook per tts-webhook-in. Each uplink kind must end up decoded and stored, with no error.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the demo's plain-JS script, loaded by path as npm start loads it
const { exampleFlows, webhookPaths } = require(join(REPO_ROOT, 'scripts', 'demo-flows.js')) as {
  exampleFlows(root: string): Array<Record<string, unknown> & { id: string; type: string }>;
  webhookPaths(flows: unknown[]): string[];
};

const TOKEN = 'demo-test-webhook-token-0123456789';

describe('the demo: all example flows against the simulator', function () {
  this.timeout(90_000);
  let red: NodeRedProcess;
  let sim: TtsSimulator;

  before(async () => {
    const flows = exampleFlows(REPO_ROOT);
    const credentials: Record<string, Record<string, string>> = {};
    for (const node of flows.filter((n) => n.type === 'tts-profile')) credentials[node.id] = { webhookToken: TOKEN };
    sim = new TtsSimulator({ devices: 3, timing: { sentDelayMs: 10, answerDelayMs: 10 } });
    const simUrl = await sim.start();
    // The examples point their profile at the simulator's default address; use this run's.
    const adjusted = flows.map((n) => (n.type === 'tts-profile' ? { ...n, server: simUrl } : n));
    red = new NodeRedProcess({ flows: adjusted, credentials });
    await red.start();
    webhookPaths(adjusted).forEach((path, i) => sim.configureWebhook({ url: red.nodeUrl(path), token: TOKEN, webhookId: i === 0 ? 'node-red' : `node-red-${i + 1}` }));
  });

  after(async () => {
    await sim?.stop();
    await red?.stop();
  });

  it('accepts every webhook, decodes each payload kind and stores the readings, with no error logged', async () => {
    const paths = webhookPaths(exampleFlows(REPO_ROOT));
    assert.ok(paths.length >= 2, `webhook-in paths: ${paths.join(', ')}`);
    // Two rounds over the three devices: the temperature/humidity frame (fPort 1), a Cayenne LPP
    // frame and a frame TTS already decoded (fPort 2).
    for (let round = 0; round < 2; round++) {
      for (const device of sim.deviceIds()) {
        const results = await sim.sendUplink(device);
        const uplinks = results.filter((r) => r.type === 'uplink_message');
        assert.deepEqual(uplinks.map((r) => new URL(r.url).pathname).sort(), [...paths].sort());
        for (const r of results) assert.equal(r.status, 200, `${r.type} to ${r.url}: ${r.status ?? r.error}`);
      }
    }
    const db = new Database(join(red.userDir, 'tts-data.db'), { readonly: true, fileMustExist: true });
    try {
      const deadline = Date.now() + 10_000;
      let rows: Array<{ device: string; data: string }> = [];
      // Readings are written in batches as soon as the event loop is free: poll the file until
      // all six are there (the deadline only bounds a failure).
      while (Date.now() < deadline) {
        rows = db.prepare('SELECT b.id AS device, r.data AS data FROM tts_readings r JOIN tts_buckets b ON b.rowid = r.bucket').all() as typeof rows;
        if (rows.length >= 6) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(rows.length, 6, JSON.stringify(rows));
      const byDevice = new Map<string, Array<Record<string, unknown>>>();
      for (const row of rows) byDevice.set(row.device, [...(byDevice.get(row.device) ?? []), JSON.parse(row.data) as Record<string, unknown>]);
      const readings = [...byDevice.values()].map((list) => list[0]);
      assert.ok(readings.some((r) => typeof r.temperature === 'number' && typeof r.humidity === 'number'), 'temperature/humidity frame decoded by the script');
      assert.ok(readings.some((r) => typeof r.temperature_1 === 'number'), 'Cayenne LPP decoded');
    } finally {
      db.close();
    }
    assert.deepEqual(red.problems(), []);
  });
});
