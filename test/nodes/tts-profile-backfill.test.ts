import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import profileModule = require('../../nodes/tts-profile/tts-profile');
import { type WebhookInput } from '../../src/inbox/inputs';
import { ttsMessageBus, webhookInputs } from '../../src/runtime';
import { TtsSimulator } from '../../src/sim';
import { parseApplicationUp } from '../../src/tts/envelope';
import type { ApplicationUp } from '../../src/tts/types';
import { profileNode } from '../helpers/flows';
import { loadFlow, nodeRedHelper, unloadFlow, waitForCall } from '../helpers/runtime';

const APP = 'backfill-app';
const TOKEN = 'backfill-test-token-0123456789';

/** Takes injected bodies as the inputs contract says (src/inbox/inputs.ts); checks each is a TTS message. */
class RecordingInput implements WebhookInput {
  readonly nodeId = 'recording-input';
  readonly bodies: ApplicationUp[] = [];
  serves(applicationId: string): boolean {
    return applicationId === APP;
  }
  async inject(body: string): Promise<void> {
    parseApplicationUp(JSON.parse(body));
    this.bodies.push(JSON.parse(body) as ApplicationUp);
  }
}

describe('tts-profile: backfill glue', function () {
  let sim: TtsSimulator;
  let userDir: string;
  let input: RecordingInput;

  before(async function () {
    await nodeRedHelper().startServer();
  });
  after(async function () {
    nodeRedHelper().settings({ userDir: undefined });
    await nodeRedHelper().stopServer();
  });
  beforeEach(async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-profile-backfill-'));
    nodeRedHelper().settings({ userDir });
    sim = new TtsSimulator({ applicationId: APP, devices: 2, storageIntegration: true });
    await sim.start();
    input = new RecordingInput();
  });
  afterEach(async function () {
    await unloadFlow();
    await sim.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  const profile = (overrides: Record<string, unknown> = {}) =>
    profileNode({ id: 'backfill-profile', applicationId: APP, server: sim.url, backfill: true, backfillMaxHours: '24', ...overrides });
  const credentials = (): Record<string, unknown> => ({ 'backfill-profile': { webhookToken: TOKEN, apiKey: sim.apiKey } });
  /** Starts the flow with the recording input registered, as a webhook-in node registers itself on start. */
  async function deploy(flowProfile: ReturnType<typeof profile>): Promise<void> {
    webhookInputs.register(input);
    await loadFlow([profileModule], [flowProfile], credentials());
  }
  async function uplink(): Promise<ApplicationUp> {
    const before = new Set(sim.storage.stored(APP));
    await sim.sendUplink();
    return sim.storage.stored(APP).find((u) => !before.has(u) && u.uplink_message)!;
  }

  it('after a restart feeds the uplinks of the gap to the webhook-in input once, and logs the outcome', async function () {
    await deploy(profile());
    for (let i = 0; i < 2; i++) ttsMessageBus.publish(parseApplicationUp(await uplink()));
    await unloadFlow(); // Node-RED stops: the state is written
    assert.ok(fs.existsSync(path.join(userDir, 'tts-backfill.json')));

    const lost = [await uplink(), await uplink(), await uplink()];
    await deploy(profile());
    const node = nodeRedHelper().getNode('backfill-profile');
    const finished = await waitForCall(node, 'log', (args) => String(args[0]).includes('tts-profile.backfill.finished'));
    assert.ok(finished);
    assert.deepEqual(new Set(input.bodies.map((b) => b.correlation_ids?.join())), new Set(lost.map((b) => b.correlation_ids?.join())));
    assert.equal(input.bodies.length, 3);
    assert.ok(node.log.args.some((a: unknown[]) => String(a[0]).includes('tts-profile.backfill.started')));
    const everything = JSON.stringify([node.log.args, node.warn.args]);
    assert.ok(!everything.includes(sim.apiKey), 'no key in the log');
  });

  it('says when the Storage Integration is not activated, and does nothing while backfill is off', async function () {
    await deploy(profile());
    ttsMessageBus.publish(parseApplicationUp(await uplink()));
    await unloadFlow();
    sim.setStorageIntegration(false);
    await deploy(profile());
    const node = nodeRedHelper().getNode('backfill-profile');
    await waitForCall(node, 'warn', (args) => String(args[0]).includes('tts-profile.backfill.not-activated'));
    await unloadFlow();

    sim.setStorageIntegration(true);
    const requests = sim.apiRequests.length;
    await deploy(profile({ backfill: false }));
    ttsMessageBus.publish(parseApplicationUp(await uplink()));
    await unloadFlow();
    assert.equal(sim.apiRequests.length, requests, 'no query while backfill is off');
    assert.equal(input.bodies.length, 0);
  });
});
