import { strict as assert } from 'node:assert';
import path from 'node:path';
import { editorSettings, resolveSetting, SETTING_NAMES, scriptTimeoutOf, type TtsSettingName } from '../../../nodes/shared/settings';

const lookup = (values: Record<string, unknown>) => (name: string): unknown => values[name];
const value = (name: TtsSettingName, values: Record<string, unknown>) => resolveSetting(name, lookup({ userDir: '/srv/node-red', ...values })).value;

describe('runtime settings (settings.js)', () => {
  it('has a default for every setting', () => {
    const defaults = Object.fromEntries(SETTING_NAMES.map((name) => [name, value(name, {})]));
    assert.deepEqual(defaults, {
      ttsUplinkDecodeTimeout: 100,
      ttsDownlinkEncodeTimeout: 100,
      ttsDownlinkRequestTimeout: 10_000,
      ttsDownlinkRetry: {},
      ttsStoreQueueLimit: 10_000,
      ttsRetentionInterval: 60_000,
      ttsSweepInterval: 30_000,
      ttsInbox: { directory: path.resolve('/srv/node-red/tts-inbox'), maxMessages: 100_000, maxBytes: 256 * 1024 * 1024 },
      ttsHeadersTimeout: 10_000,
    });
  });

  it('accepts numbers and numeric strings, and explains a value it refuses', () => {
    assert.equal(value('ttsSweepInterval', { ttsSweepInterval: '5000' }), 5000);
    assert.equal(value('ttsUplinkDecodeTimeout', { ttsUplinkDecodeTimeout: 10_000 }), 10_000);
    const refused = resolveSetting('ttsUplinkDecodeTimeout', lookup({ ttsUplinkDecodeTimeout: 10_001 }));
    assert.equal(refused.value, 100);
    assert.match(refused.problem ?? '', /ttsUplinkDecodeTimeout must be a number of ms from 1 to 10000 \(got 10001\): using the default/);
    assert.equal(resolveSetting('ttsStoreQueueLimit', lookup({ ttsStoreQueueLimit: -1 })).value, 10_000);
    assert.equal(resolveSetting('ttsStoreQueueLimit', lookup({})).problem, undefined);
  });

  it('takes the retry keys given, whole attempts of at least one', () => {
    assert.deepEqual(value('ttsDownlinkRetry', { ttsDownlinkRetry: { maxAttempts: 2.7, baseDelayMs: 0 } }), { maxAttempts: 2, baseDelayMs: 0 });
    assert.deepEqual(value('ttsDownlinkRetry', { ttsDownlinkRetry: { maxAttempts: 0 } }), { maxAttempts: 1 });
    assert.match(resolveSetting('ttsDownlinkRetry', lookup({ ttsDownlinkRetry: { maxDelayMs: 'soon' } })).problem ?? '', /ttsDownlinkRetry must be/);
  });

  it('turns the inbox off with false, and places a relative directory in the user directory', () => {
    assert.equal(value('ttsInbox', { ttsInbox: false }), false);
    assert.deepEqual(value('ttsInbox', { ttsInbox: { directory: 'spool', maxMessages: 10 } }), {
      directory: path.resolve('/srv/node-red/spool'),
      maxMessages: 10,
      maxBytes: 256 * 1024 * 1024,
    });
    assert.equal((value('ttsInbox', { ttsInbox: { directory: '/var/tts' } }) as { directory: string }).directory, path.resolve('/var/tts'));
    assert.ok(resolveSetting('ttsInbox', lookup({ ttsInbox: { maxBytes: 0 } })).problem);
    assert.ok(resolveSetting('ttsInbox', lookup({ ttsInbox: 'yes' })).problem);
  });

  it('lets a node limit win over the setting, and an empty node limit use it', () => {
    assert.equal(scriptTimeoutOf('', 250), 250);
    assert.equal(scriptTimeoutOf(undefined, 250), 250);
    assert.equal(scriptTimeoutOf('30', 250), 30);
    assert.equal(scriptTimeoutOf('0', 250), 250);
  });

  it('exports defaults for the editor under names Node-RED accepts for the node type', () => {
    assert.deepEqual(editorSettings('ttsDownlinkEncodeTimeout'), { ttsDownlinkEncodeTimeout: { value: 100, exportable: true } });
  });
});
