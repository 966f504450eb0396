import { strict as assert } from 'node:assert';
import { normaliseServerUrl, parseProfileConfig, PROFILE_DEFAULTS } from '../../src/profile/profile-settings';

describe('profile settings', () => {
  describe('normaliseServerUrl', () => {
    const cases: Array<[string, string]> = [
      ['eu1.cloud.thethings.network', 'https://eu1.cloud.thethings.network'],
      ['  eu1.cloud.thethings.network/  ', 'https://eu1.cloud.thethings.network'],
      ['https://tts.example.com:8443/', 'https://tts.example.com:8443'],
      ['http://127.0.0.1:1881', 'http://127.0.0.1:1881'],
      ['HTTPS://Eu1.Cloud.TheThings.Network', 'https://eu1.cloud.thethings.network'],
      ['', ''],
    ];
    for (const [input, expected] of cases) {
      it(`"${input}" → "${expected}"`, () => assert.deepEqual(normaliseServerUrl(input), { url: expected }));
    }
    for (const bad of ['ftp://eu1.example.com', 'https://user:pw@host.example', 'https://host.example/?q=1', 'http://', 'exa mple.com']) {
      it(`refuses "${bad}" with a reason`, () => {
        const result = normaliseServerUrl(bad);
        assert.ok('error' in result, JSON.stringify(result));
      });
    }
  });

  it('applies defaults to an empty config: the Default profile', () => {
    const { settings, errors } = parseProfileConfig('p1', {});
    assert.deepEqual(errors, []);
    assert.equal(settings.applicationId, '');
    assert.equal(settings.autoProvision, PROFILE_DEFAULTS.autoProvision);
    assert.equal(settings.connectionTimeout, 60);
    assert.equal(settings.queue, 'push');
    assert.equal(settings.priority, 'NORMAL');
    assert.equal(settings.fPort, 1);
    assert.equal(settings.downlinkData, undefined);
  });

  it('parses what the editor stores (numbers and booleans as text)', () => {
    const { settings, errors } = parseProfileConfig('p2', {
      name: 'Farm', applicationId: 'farm-sensors', server: 'eu1.cloud.thethings.network', webhookId: 'node-red',
      autoProvision: 'false', connectionTimeout: '15', devicePrefix: 'farm-', bucketPrefix: 'b-', assetType: 'sensor', assetGroup: 'barn',
      updateLocation: false, saveMetadata: 'true', initDownlink: true, downlinkData: '{"enabled":true,"frequency":10}',
      confirmed: 'true', queue: 'replace', priority: 'HIGHEST', fPort: '223',
    });
    assert.deepEqual(errors, []);
    assert.equal(settings.server, 'https://eu1.cloud.thethings.network');
    assert.equal(settings.autoProvision, false);
    assert.equal(settings.connectionTimeout, 15);
    assert.equal(settings.saveMetadata, true);
    assert.equal(settings.updateLocation, false);
    assert.deepEqual(settings.downlinkData, { enabled: true, frequency: 10 });
    assert.equal(settings.confirmed, true);
    assert.equal(settings.queue, 'replace');
    assert.equal(settings.priority, 'HIGHEST');
    assert.equal(settings.fPort, 223);
  });

  it('reports every invalid field and keeps its default', () => {
    const { settings, errors } = parseProfileConfig('p3', {
      applicationId: 'Farm_Sensors', server: 'ftp://x.example', webhookId: 'x', connectionTimeout: '0', initDownlink: true,
      downlinkData: '{bad', queue: 'append', priority: 'URGENT', fPort: '224',
    });
    assert.equal(errors.length, 8, errors.join('\n'));
    assert.ok(errors.some((e) => /application ID "Farm_Sensors"/.test(e)));
    assert.ok(errors.some((e) => /https/.test(e)));
    assert.ok(errors.some((e) => /webhook ID/.test(e)));
    assert.ok(errors.some((e) => /connection timeout/.test(e)));
    assert.ok(errors.some((e) => /not valid JSON/.test(e)));
    assert.ok(errors.some((e) => /queue must be/.test(e)));
    assert.ok(errors.some((e) => /priority must be one of LOWEST/.test(e)));
    assert.ok(errors.some((e) => /FPort must be a whole number from 1 to 223/.test(e)));
    assert.equal(settings.fPort, 1);
    assert.equal(settings.priority, 'NORMAL');
    assert.equal(settings.connectionTimeout, 60);
  });

  it('ignores downlink data while "initialize downlink data" is off', () => {
    const { settings, errors } = parseProfileConfig('p4', { initDownlink: false, downlinkData: '{"a":1}' });
    assert.deepEqual(errors, []);
    assert.equal(settings.downlinkData, undefined);
  });

  it('backfill is off by default with a 24 h maximum gap; the editor text is parsed and bounded', () => {
    assert.equal(parseProfileConfig('p5', {}).settings.backfill, false);
    assert.equal(parseProfileConfig('p5', {}).settings.backfillMaxHours, 24);
    // Saved empty by the dialog before it showed the default for a profile that lacked the field.
    assert.deepEqual(parseProfileConfig('p5', { backfill: false, backfillMaxHours: '' }), parseProfileConfig('p5', {}));
    const on = parseProfileConfig('p5', { backfill: 'true', backfillMaxHours: '72' });
    assert.deepEqual(on.errors, []);
    assert.equal(on.settings.backfill, true);
    assert.equal(on.settings.backfillMaxHours, 72);
    for (const bad of ['0', '721', '1.5', 'day']) {
      const { settings, errors } = parseProfileConfig('p5', { backfill: true, backfillMaxHours: bad });
      assert.equal(errors.length, 1, bad);
      assert.match(errors[0], /backfill maximum gap must be a whole number of hours from 1 to 720/);
      assert.equal(settings.backfillMaxHours, 24);
    }
  });
});
