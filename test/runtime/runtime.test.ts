import { strict as assert } from 'node:assert';
import type { NodeAPI } from 'node-red';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downlinkTargets, holdForRetry, profileRegistry, registeredRuntimeState, registerHolder, resetRuntime, ttsMessageBus, webhookInputs } from '../../src/runtime';
import { eventLog } from '../../src/monitor/event-log';
import { parseProfileConfig } from '../../src/profile/profile-settings';
import { setting } from '../../nodes/shared/settings';
// Loaded for its registration: the shared inbox of the webhook nodes.
import '../../nodes/shared/inbox-runtime';
import { SqliteThreadBackend, sqliteThreadsRunning } from '../../src/store/sqlite-thread';

/** A RED with only what `setting` reads, counting the warnings it gives. */
function redWith(settings: Record<string, unknown>): { red: NodeAPI; warnings: string[] } {
  const warnings: string[] = [];
  const red = { settings, log: { warn: (text: string) => warnings.push(text) } } as unknown as NodeAPI;
  return { red, warnings };
}

describe('runtime: the process-wide state and its one reset', () => {
  afterEach(() => resetRuntime());

  it('forgets profiles, downlink targets, bus subscribers, holders, webhook inputs, the event log and the warnings given', () => {
    profileRegistry.add({ settings: parseProfileConfig('farm', { applicationId: 'farm-sensors' }).settings, webhookToken: 't', apiKey: '' });
    downlinkTargets.remember('farm-sensors', { 'x-downlink-push': 'http://127.0.0.1:1/push' });
    ttsMessageBus.subscribe(() => undefined);
    assert.equal(ttsMessageBus.listenerCount('message'), 1);
    registerHolder({ hold: () => true });
    webhookInputs.register({ nodeId: 'hook', serves: () => true, inject: () => Promise.resolve() });
    eventLog.record({ kind: 'webhook', outcome: 'accepted', profile: 'farm' });
    eventLog.on('event', () => undefined);
    const { red, warnings } = redWith({ ttsSweepInterval: 'often' });
    setting(red, 'ttsSweepInterval');
    setting(red, 'ttsSweepInterval');
    assert.equal(warnings.length, 1, 'a setting refused is reported once');

    assert.ok(profileRegistry.get('farm'));
    assert.ok(downlinkTargets.get('farm-sensors'));
    assert.equal(holdForRetry({ _msgid: 'm' }, 'x'), true);
    assert.ok(webhookInputs.forApplication('farm-sensors'));
    assert.equal(eventLog.list().length, 1);

    resetRuntime();

    assert.equal(profileRegistry.all().length, 0);
    assert.equal(downlinkTargets.get('farm-sensors'), undefined);
    assert.equal(ttsMessageBus.listenerCount('message'), 0, 'no subscriber left');
    assert.equal(holdForRetry({ _msgid: 'm' }, 'x'), false);
    assert.equal(webhookInputs.forApplication('farm-sensors'), undefined);
    assert.deepEqual([eventLog.list().length, eventLog.listenerCount('event')], [0, 0]);
    setting(red, 'ttsSweepInterval');
    assert.equal(warnings.length, 2, 'a fresh process reports it again');
  });

  it('knows the state kept outside src/runtime, each registered once', () => {
    assert.deepEqual(registeredRuntimeState().sort(), ['event log', 'settings warnings', 'shared inbox', 'sqlite threads']);
  });

  it('ends the SQLite threads of stores nobody closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tts-runtime-'));
    try {
      const backend = new SqliteThreadBackend(join(dir, 'left-open.db'));
      await backend.open();
      const thread = backend.thread!;
      const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
      assert.equal(sqliteThreadsRunning(), 1);
      resetRuntime();
      assert.equal(sqliteThreadsRunning(), 0);
      await exited;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
