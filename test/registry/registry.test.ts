import assert from 'node:assert/strict';
import { parseProfileConfig, type ProfileConfig } from '../../src/profile/profile-settings';
import { DeviceRegistry, type LifecycleEvent } from '../../src/registry/registry';
import { gatewayLocation } from '../../src/registry/location';
import { durationMs, radioSummary } from '../../src/registry/radio-summary';
import type { TtsStore } from '../../src/store/store';
import { parseApplicationUp } from '../../src/tts/envelope';
import type { TtsEnvelope } from '../../src/tts/envelope-types';
import { ttsFixture } from '../helpers/tts-fixtures';
import { BACKENDS, type TestTarget } from '../helpers/store-backends';

function profile(config: ProfileConfig = {}) {
  const { settings, errors } = parseProfileConfig('p1', { applicationId: 'farm-sensors', ...config });
  assert.deepEqual(errors, []);
  return settings;
}

function uplink(edit: (body: Record<string, any>) => void = () => undefined): TtsEnvelope {
  const body = ttsFixture('uplink_message');
  edit(body);
  return parseApplicationUp(body);
}

const RECEIVED = Date.parse('2025-03-14T09:26:53.512Z');

describe('registry: radio summary and gateway location', () => {
  it('summarises the fixture uplink', () => {
    const s = radioSummary(
      uplink((b) => {
        b.uplink_message.last_battery_percentage = { value: 87.4 };
      }),
    );
    assert.deepEqual(s, {
      gateways: [
        { gatewayId: 'gw-barn', rssi: -87, snr: 9.25 },
        { gatewayId: 'gw-silo', rssi: -112, snr: -4.5 },
      ],
      gatewayCount: 2,
      bestRssi: -87,
      bestSnr: 9.25,
      spreadingFactor: 7,
      bandwidth: 125000,
      dataRate: 'SF7BW125',
      frequency: 867300000,
      airtimeMs: 56.576,
      fCnt: 1337,
      fPort: 2,
      versionIds: { brand_id: 'acme', model_id: 'th-100', hardware_version: '1.0', firmware_version: '2.1', band_id: 'EU_863_870' },
      battery: 87.4,
    });
    assert.equal(durationMs('1.5s'), 1500);
    assert.equal(durationMs('soon'), undefined);
  });

  it('takes the single located gateway, or a power-weighted centroid, and ignores 0,0', () => {
    const one = gatewayLocation([{ gateway_ids: { gateway_id: 'a' }, rssi: -80, location: { latitude: 50, longitude: 4 } }], 1);
    assert.deepEqual(one, { latitude: 50, longitude: 4, source: 'gateway', at: 1 });
    const two = gatewayLocation(
      [
        { gateway_ids: { gateway_id: 'a' }, rssi: -80, location: { latitude: 50, longitude: 4 } },
        { gateway_ids: { gateway_id: 'b' }, rssi: -90, location: { latitude: 51, longitude: 5 } },
        { gateway_ids: { gateway_id: 'c' }, rssi: -60, location: { latitude: 0, longitude: 0 } },
      ],
      1,
    );
    // -80 dBm weighs ten times -90 dBm.
    assert.equal(two?.source, 'gateways');
    assert.ok(Math.abs((two?.latitude ?? 0) - (50 + 1 / 11)) < 1e-9);
    assert.equal(gatewayLocation([], 1), undefined);
  });
});

for (const kind of BACKENDS) {
  describe(`registry on ${kind.name}`, () => {
    let target: TestTarget;
    let store: TtsStore;
    let registry: DeviceRegistry;

    beforeEach(async () => {
      target = await kind.create();
      store = target.store();
      await store.start();
      registry = new DeviceRegistry(store, { sweepInterval: 20 });
    });

    afterEach(async () => {
      await registry.close();
      await target.cleanup();
    });

    it('creates an unknown device with the profile’s prefixes, asset fields, TTS ids and downlink data', async () => {
      const p = profile({
        devicePrefix: 'dev-',
        bucketPrefix: 'bkt-',
        assetType: 'climate',
        assetGroup: 'barn',
        connectionTimeout: 5,
        initDownlink: true,
        downlinkData: '{"enabled":true,"frequency":10,"threshold":20}',
      });
      const r = await registry.process(uplink(), p, RECEIVED + 1000);
      assert.equal(r.created, true);
      const d = r.device!;
      assert.equal(d.id, 'dev-eui-70b3d57ed005a1b2');
      assert.equal(d.bucket, 'bkt-eui-70b3d57ed005a1b2');
      assert.equal(d.applicationId, 'farm-sensors');
      assert.equal(d.devEui, '70B3D57ED005A1B2');
      assert.equal(d.joinEui, '0000000000000000');
      assert.equal(d.assetType, 'climate');
      assert.equal(d.assetGroup, 'barn');
      assert.equal(d.connectionTimeout, 5 * 60_000);
      assert.deepEqual(d.downlink, { enabled: true, frequency: 10, threshold: 20 });
      assert.equal(d.uplinkCount, 1);
      assert.equal(d.lastFCnt, 1337);
      assert.equal(d.metadata?.bestRssi, -87);
      assert.equal(d.location?.source, 'user');
      assert.deepEqual(
        r.events.map((e) => e.event),
        ['created', 'location'],
      );
      assert.equal((await store.getBucket('bkt-eui-70b3d57ed005a1b2'))?.device, d.id);
      // The same uplink again: no new device, not counted twice.
      const again = await registry.process(uplink(), p, RECEIVED + 2000);
      assert.equal(again.created, false);
      assert.equal(again.device?.uplinkCount, 1);
      assert.deepEqual(again.events, []);
    });

    it('names each device a committed message changed (for the sidebar), not one whose message was a duplicate', async () => {
      const changed: string[] = [];
      registry.on('changed', (id: string) => changed.push(id));
      const p = profile({ devicePrefix: 'dev-' });
      await registry.process(uplink(), p, RECEIVED + 1000);
      await registry.process(uplink((b) => (b.uplink_message.f_cnt = 1338)), p, RECEIVED + 2000);
      // The same frame again changes nothing.
      await registry.process(uplink((b) => (b.uplink_message.f_cnt = 1338)), p, RECEIVED + 3000);
      assert.deepEqual(changed, ['dev-eui-70b3d57ed005a1b2', 'dev-eui-70b3d57ed005a1b2']);
    });

    it('leaves unknown devices alone when auto provision is off, and does not create from downlink events', async () => {
      const off = await registry.process(uplink(), profile({ autoProvision: false }), RECEIVED);
      assert.deepEqual(off, { created: false, skipped: 'auto-provision-off', events: [] });
      const ack = await registry.process(parseApplicationUp(ttsFixture('downlink_ack')), profile(), RECEIVED);
      assert.equal(ack.skipped, 'not-provisioning-message');
      assert.equal((await store.listDevices()).devices.length, 0);
    });

    it('honours update location and save metadata being off', async () => {
      const r = await registry.process(uplink(), profile({ updateLocation: false, saveMetadata: false, initDownlink: false, downlinkData: '{"a":1}' }), RECEIVED);
      assert.equal(r.device?.location, undefined);
      assert.equal(r.device?.metadata, undefined);
      assert.equal(r.device?.downlink, undefined);
    });

    it('prefers location_solved over the payload over the registry over gateways', async () => {
      const p = profile();
      const gwOnly = uplink((b) => delete b.uplink_message.locations);
      const r1 = await registry.process(gwOnly, p, RECEIVED);
      assert.equal(r1.device?.location?.source, 'gateways');
      const r2 = await registry.process(uplink((b) => (b.uplink_message.f_cnt = 1338)), p, RECEIVED + 1);
      assert.equal(r2.device?.location?.source, 'user');
      const withGps = uplink((b) => {
        b.uplink_message.f_cnt = 1339;
        b.uplink_message.locations['frm-payload'] = { latitude: 52.4, longitude: 4.9, source: 'SOURCE_GPS' };
      });
      const r3 = await registry.process(withGps, p, RECEIVED + 2);
      assert.equal(r3.device?.location?.source, 'frm-payload');
      const solved = await registry.process(parseApplicationUp(ttsFixture('location_solved')), p, RECEIVED + 3);
      assert.equal(solved.device?.location?.source, 'location_solved');
      assert.equal(solved.device?.location?.latitude, 38.7223);
      assert.deepEqual(
        solved.events.map((e) => e.event),
        ['location'],
      );
      // A later uplink with only the registry location does not override the solver.
      const r4 = await registry.process(uplink((b) => (b.uplink_message.f_cnt = 1340)), p, RECEIVED + 4);
      assert.equal(r4.device?.location?.source, 'location_solved');
      assert.equal(r4.device?.lostFrames, 0);
      assert.equal(r4.device?.uplinkCount, 4);
    });

    it('sweeps silent devices offline (also for devices silent before a restart) and reports them back online', async () => {
      const p = profile({ connectionTimeout: 1 });
      const now = Date.now();
      const old = uplink((b) => (b.received_at = new Date(now - 2 * 60_000).toISOString()));
      await registry.process(old, p, now);
      const events: LifecycleEvent[] = [];
      const swept = new Promise<void>((resolve) =>
        registry.on('lifecycle', (e: LifecycleEvent) => {
          events.push(e);
          resolve();
        }),
      );
      registry.startSweeper();
      await swept;
      assert.equal(events[0].event, 'offline');
      assert.equal(events[0].device.online, false);
      // A second registry (a restart) finds nothing more to report.
      const second = new DeviceRegistry(store);
      assert.deepEqual(await second.sweep(), []);
      const fresh = uplink((b) => {
        b.received_at = new Date().toISOString();
        b.uplink_message.f_cnt = 1338;
      });
      const back = await registry.process(fresh, p);
      assert.deepEqual(
        back.events.map((e) => e.event),
        ['online'],
      );
      assert.equal(back.device?.online, true);
    });

    it('keeps a device’s full record in memory from its second message since start, with the stored data each time', async () => {
      const p = profile({ assetType: 'climate', assetGroup: 'barn', connectionTimeout: 1, initDownlink: true, downlinkData: '{"a":1}' });
      const now = Date.now();
      const at = (f: number, ms: number) =>
        uplink((b) => {
          b.received_at = new Date(ms).toISOString();
          b.uplink_message.f_cnt = f;
        });
      await registry.process(at(1, now - 2 * 60_000), p, now);
      assert.equal((await registry.sweep(now)).length, 1, 'offline before the restart');
      // A restart: the device is in the store only.
      const restarted = new DeviceRegistry(store);
      let reads = 0;
      const counted = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => (...a: A) => ((reads += 1), f.apply(store, a));
      store.getDevice = counted(store.getDevice);
      store.getDeviceNow = counted(store.getDeviceNow);
      store.loadDevice = counted(store.loadDevice);
      try {
        const first = await restarted.process(at(2, now), p, now);
        assert.equal(first.device?.assetType, 'climate');
        assert.deepEqual(first.device?.downlink, { a: 1 });
        assert.equal(first.device?.uplinkCount, 2);
        assert.equal(first.device?.metadata?.bestRssi, -87);
        // Its events carry the whole record too, though the registry kept none.
        assert.deepEqual(first.events.map((e) => [e.event, e.device.assetGroup, e.device.online]), [['online', 'barn', true]]);
        assert.equal(restarted.cachedRecords, 0);
        assert.equal(reads, 1);
        // Changed in the store meanwhile (another instance, say): the second message reads it.
        await store.setDownlink(first.device!.id, { a: 2 });
        const second = await restarted.process(at(3, now + 1), p, now + 1);
        assert.deepEqual(second.device?.downlink, { a: 2 });
        assert.equal(second.device?.assetType, 'climate');
        assert.equal(second.device?.uplinkCount, 3);
        assert.equal(second.device?.lastFCnt, 3);
        assert.equal(restarted.cachedRecords, 1);
        assert.equal(reads, 2);
        // From then on, from memory.
        const third = await restarted.process(at(4, now + 2), p, now + 2);
        assert.deepEqual([third.device?.uplinkCount, third.device?.lastFCnt, third.device?.assetGroup, third.device?.metadata?.bestRssi], [4, 4, 'barn', -87]);
        assert.deepEqual(third.device?.downlink, { a: 2 });
        assert.equal(reads, 2);
        assert.equal((await store.getDevice(first.device!.id))?.uplinkCount, 4);
      } finally {
        await restarted.close();
      }
    });

    it('gives the downlink node devices by id or TTS ids and their downlink property', async () => {
      await registry.process(uplink(), profile({ devicePrefix: 'x-', initDownlink: true, downlinkData: '{"a":1}' }), RECEIVED);
      const id = 'x-eui-70b3d57ed005a1b2';
      assert.equal((await registry.resolveDevice(id))?.id, id);
      assert.equal((await registry.resolveDevice('farm-sensors/eui-70b3d57ed005a1b2'))?.id, id);
      assert.equal((await registry.resolveDevice({ applicationId: 'farm-sensors', deviceId: 'eui-70b3d57ed005a1b2' }))?.id, id);
      assert.equal(await registry.resolveDevice('nope'), undefined);
      assert.deepEqual(await registry.getDownlink(id), { a: 1 });
      assert.equal(await registry.setDownlink(id, { a: 2 }), true);
      assert.deepEqual(await registry.getDownlink(id), { a: 2 });
    });

    it('finds a device whose creation is still queued (the message went on before the commit)', async () => {
      // A store that would wait 10 s before its transaction: the read must not wait for that.
      const slow = target.store({ gatherMs: 10_000 });
      await slow.start();
      const behind = new DeviceRegistry(slow, { sweepInterval: 60_000 });
      try {
        const accepted = await behind.accept(uplink(), profile({ devicePrefix: 'q-' }), RECEIVED);
        assert.equal(accepted.created, true);
        assert.equal((await behind.getDevice('q-eui-70b3d57ed005a1b2'))?.deviceId, 'eui-70b3d57ed005a1b2');
        assert.equal((await behind.findDevice('farm-sensors', 'eui-70b3d57ed005a1b2'))?.id, 'q-eui-70b3d57ed005a1b2');
        // The read flushed the queue: the creation is committed now, not in 10 s.
        assert.ok((await accepted.committed).some((e) => e.event === 'created'));
      } finally {
        await behind.close();
        await slow.close();
      }
    });
  });
}
