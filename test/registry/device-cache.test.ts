import assert from 'node:assert/strict';
import { DeviceCache } from '../../src/registry/device-cache';
import type { DeviceState } from '../../src/store/device-state';
import type { DeviceRecord } from '../../src/store/types';

function state(n: number, edit: Partial<DeviceState> = {}): DeviceState {
  return {
    id: `dev-${n}`,
    applicationId: 'farm-sensors',
    deviceId: `dev-${n}`,
    bucket: `dev-${n}`,
    connectionTimeout: 3_600_000,
    lastSeen: 1_700_000_000_000 + n,
    uplinkCount: n,
    lastFCnt: undefined,
    lastUplinkAt: undefined,
    lostFrames: 0,
    online: true,
    stateChangedAt: undefined,
    location: undefined,
    locationRank: undefined,
    ...edit,
  };
}

function record(n: number): DeviceRecord {
  return {
    id: `dev-${n}`,
    applicationId: 'farm-sensors',
    deviceId: `dev-${n}`,
    bucket: `dev-${n}`,
    profileId: 'p1',
    assetType: 'sensor',
    assetGroup: 'field',
    connectionTimeout: 3_600_000,
    createdAt: 1,
    updatedAt: 1,
    uplinkCount: 0,
    lostFrames: 0,
    online: true,
  };
}

describe('registry: device cache', () => {
  it('gives back every field it was given, undefined ones included, and a location with and without altitude and accuracy', () => {
    const cache = new DeviceCache();
    const full = state(1, {
      id: 'x-dev-1',
      bucket: 'b-dev-1',
      lastFCnt: 0,
      lastUplinkAt: 1_700_000_000_500,
      lostFrames: 3,
      online: false,
      stateChangedAt: 1_700_000_000_600,
      location: { latitude: 52.0907, longitude: 5.1214, altitude: 12.5, accuracy: 8, source: 'frm-payload', at: 1_700_000_000_400 },
      locationRank: 2,
    });
    const bare = state(2, { lastSeen: undefined, location: { latitude: -33.9, longitude: 151.2, source: 'gateways', at: 5 }, locationRank: 0 });
    const a = cache.put(full);
    const b = cache.put(bare);
    assert.deepEqual(cache.read(a), full);
    assert.deepEqual(cache.read(b), bare);
    assert.equal(Object.hasOwn(cache.read(b).location!, 'altitude'), false);
    assert.equal(cache.size, 2);
    // A fresh object each time: a message's copy never changes under it.
    const copy = cache.read(a);
    copy.uplinkCount = 99;
    assert.equal(cache.read(a).uplinkCount, 1);
  });

  it('writes a state in place, keeps the ids it first had and counts pending writes per device', () => {
    const cache = new DeviceCache();
    const slot = cache.put(state(1));
    assert.equal(cache.addPending(slot, 1), 1);
    assert.equal(cache.addPending(slot, 1), 2);
    cache.write(slot, state(1, { uplinkCount: 7, location: { latitude: 1, longitude: 2, source: 'user', at: 3 }, locationRank: 3 }));
    const again = cache.put(state(1, { uplinkCount: 8 }));
    assert.deepEqual(again, slot);
    assert.equal(cache.read(slot).uplinkCount, 8);
    assert.equal(cache.addPending(slot, -1), 1);
    cache.markOffline('farm-sensors', 'dev-1', 42);
    assert.equal(cache.read(slot).online, false);
    assert.equal(cache.read(slot).stateChangedAt, 42);
    assert.equal(cache.find('farm-sensors', 'dev-2'), undefined);
    assert.equal(cache.find('other-app', 'dev-1'), undefined);
  });

  it('tells a forgotten device from the one that took its row, and drops its record', () => {
    const cache = new DeviceCache();
    const first = cache.put(state(1));
    cache.putRecord(record(1));
    cache.evict(first);
    assert.equal(cache.holds(first), false);
    assert.equal(cache.find('farm-sensors', 'dev-1'), undefined);
    assert.equal(cache.record('dev-1'), undefined);
    assert.equal(cache.size, 0);
    const second = cache.put(state(2));
    assert.equal(second.row, first.row, 'the freed row is reused');
    assert.equal(cache.holds(first), false);
    assert.equal(cache.holds(second), true);
    // Evicting through a stale slot leaves the row's new device alone.
    cache.evict(first);
    assert.equal(cache.read(second).id, 'dev-2');
    assert.equal(cache.size, 1);
  });

  it('holds 10,000 devices through its growth, each with its own state', () => {
    const cache = new DeviceCache();
    const slots = Array.from({ length: 10_000 }, (_, n) => cache.put(state(n, { lastFCnt: n, location: { latitude: n / 1000, longitude: 1, source: n % 2 ? 'gateway' : 'user', at: n } })));
    assert.equal(cache.size, 10_000);
    for (const n of [0, 255, 256, 4_999, 9_999]) {
      const s = cache.read(slots[n]);
      assert.equal(s.deviceId, `dev-${n}`);
      assert.equal(s.lastFCnt, n);
      assert.equal(s.location?.latitude, n / 1000);
      assert.equal(s.location?.source, n % 2 ? 'gateway' : 'user');
    }
  });

  it('keeps the most recently used records up to its limit', () => {
    const cache = new DeviceCache(2);
    cache.putRecord(record(1));
    cache.putRecord(record(2));
    assert.ok(cache.record('dev-1'));
    cache.putRecord(record(3));
    assert.equal(cache.record('dev-2'), undefined);
    assert.ok(cache.record('dev-1'));
    assert.ok(cache.record('dev-3'));
  });
});
