import { strict as assert } from 'node:assert';
import { ProfileRegistry, type ActiveProfile } from '../../src/profile/profile-registry';
import { parseProfileConfig } from '../../src/profile/profile-settings';

function profile(id: string, applicationId: string): ActiveProfile {
  return { settings: parseProfileConfig(id, { applicationId }).settings, webhookToken: `${id}-token`, apiKey: '' };
}

describe('profile registry', () => {
  it("selects the application's own profile, else the node's Default fallback, else the deployed Default", () => {
    const registry = new ProfileRegistry();
    const farm = profile('farm', 'farm-sensors');
    const dflt = profile('dflt', '');
    registry.add(farm);
    assert.equal(registry.select('farm-sensors'), farm);
    assert.equal(registry.select('other-app'), undefined);
    registry.add(dflt);
    assert.equal(registry.select('other-app'), dflt);
    assert.equal(registry.select('other-app', 'farm'), dflt, 'a fallback with its own application ID is not a Default');
    assert.equal(registry.select('other-app', 'dflt'), dflt);
  });

  it('selects nothing while profiles conflict, and says why', () => {
    const registry = new ProfileRegistry();
    const a = profile('a', 'farm-sensors');
    const b = profile('b', 'farm-sensors');
    registry.add(a);
    registry.add(b);
    assert.equal(registry.select('farm-sensors'), undefined);
    assert.match(registry.conflictFor(a) ?? '', /more than one profile is deployed for application "farm-sensors"/);
    const d1 = profile('d1', '');
    const d2 = profile('d2', '');
    registry.add(d1);
    registry.add(d2);
    assert.equal(registry.select('other-app', 'd1'), undefined);
    assert.match(registry.conflictFor(d1) ?? '', /more than one Default profile/);
    registry.remove('d2');
    assert.equal(registry.select('other-app'), d1);
  });

  it('keeps the new entry when an old node closes after its replacement registered', () => {
    const registry = new ProfileRegistry();
    const old = profile('p', 'farm-sensors');
    const replacement = profile('p', 'farm-sensors');
    registry.add(old);
    registry.add(replacement);
    registry.remove('p', old);
    assert.equal(registry.get('p'), replacement);
  });
});
