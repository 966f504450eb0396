import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TtsSimulator } from '../../src/sim';
import { gateModule, gatesHold, resetGates, type GatedMessage } from '../helpers/gate-node';
import { uid } from '../helpers/flows';
import { loadFlow, nodeRedHelper, startServerWithNodeRoutes, unloadFlow, waitForCall } from '../helpers/runtime';
import { CONFIG, MODULES, downlinkFlow, startSimulator, useTestSettings } from '../helpers/downlink-flows';

/**
 * webhook-in → gate → tts-downlink [→ gate]: an uplink answered with a downlink, replayed after a
 * redeploy either before or after the downlink went out.
 */
describe('replays never send a downlink twice', () => {
  let sim: TtsSimulator;
  let inboxDir: string;
  let settings: { cleanup(): void };
  before(async () => {
    await startServerWithNodeRoutes();
  });
  after(async () => {
    await nodeRedHelper().stopServer();
  });
  beforeEach(async () => {
    resetGates();
    inboxDir = mkdtempSync(join(tmpdir(), 'tts-inbox-downlink-'));
    settings = useTestSettings({ ttsInbox: { directory: inboxDir } });
    sim = await startSimulator();
  });
  afterEach(async () => {
    await unloadFlow();
    await sim.stop();
    settings.cleanup();
    rmSync(inboxDir, { recursive: true, force: true });
  });

  function flow(afterDownlink: boolean) {
    const f = downlinkFlow(sim);
    const before = { id: uid('gate'), type: 'test-gate', wires: [[f.downlink.id]] };
    const hook = f.flow.find((n) => n.type === 'tts-webhook-in')!;
    hook.wires = [[before.id]];
    const nodes = [...f.flow, before];
    if (afterDownlink) {
      const behind = { id: uid('gate'), type: 'test-gate', wires: [] };
      const downlink = f.flow.find((n) => n.id === f.downlink.id)!;
      downlink.wires = [[behind.id], []];
      nodes.push(behind);
    }
    return { nodes, creds: f.creds, downlink: f.downlink.id };
  }

  // The simulator answers a downlink with events that webhook-in feeds into the same gate, at
  // times of its own: the tests pick the uplink, and the downlink node's output, among them.
  const uplink = (g: GatedMessage): boolean => g.msg.tts?.type === 'uplink_message';
  const sentOn = (g: GatedMessage): boolean => g.msg.downlink !== undefined;

  const answer = (g: { msg: { payload?: unknown }; pass(): void }): void => {
    g.msg.payload = CONFIG;
    g.pass();
  };

  it('does not send again when the downlink went out before the restart', async () => {
    const { nodes, creds, downlink } = flow(true);
    await loadFlow([...MODULES, gateModule], nodes, creds);
    await sim.sendUplink('valve-01');
    answer((await gatesHold(1, uplink))[0]);
    await gatesHold(1, sentOn); // the downlink node passed it on: it was sent
    assert.equal(sim.receivedDownlinks.length, 1);
    await unloadFlow();
    resetGates();
    await loadFlow([...MODULES, gateModule], nodes, creds);
    const [replayed] = await gatesHold(1, uplink);
    assert.equal(replayed.msg.tts?.replay, true);
    answer(replayed);
    await waitForCall(nodeRedHelper().getNode(downlink), 'status', (args) => (args[0] as { text?: string }).text === 'tts-downlink.status.replay-skipped');
    assert.equal(sim.receivedDownlinks.length, 1);
  });

  it('sends it once when the restart came before the downlink went out', async () => {
    const { nodes, creds } = flow(false);
    await loadFlow([...MODULES, gateModule], nodes, creds);
    await sim.sendUplink('valve-01');
    await gatesHold(1, uplink);
    await unloadFlow();
    resetGates();
    await loadFlow([...MODULES, gateModule], nodes, creds);
    const [replayed] = await gatesHold(1, uplink);
    assert.equal(replayed.msg.tts?.replay, true);
    const sent = new Promise((resolve) => sim.once('downlink-request', resolve));
    answer(replayed);
    await sent;
    assert.equal(sim.receivedDownlinks.length, 1);
  });
});
