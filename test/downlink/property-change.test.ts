import { strict as assert } from 'node:assert';
import { storeDownlinkOnly, triggersDownlink } from '../../src/downlink/property-change';
import type { DownlinkChange } from '../../src/registry/registry';
import type { DeviceRecord } from '../../src/store/types';

const device = { id: 'farm-valve-01', applicationId: 'farm', deviceId: 'valve-01' } as DeviceRecord;
const change = (origin: DownlinkChange['origin'], value: unknown = { on: true }): DownlinkChange => ({ id: device.id, value, origin });
const servesFarm = { serves: (app: string) => app === 'farm' };

describe('downlink on property change: which node sends', () => {
  it('a node with a fixed device reacts to that device only (registry id or application/device)', () => {
    assert.equal(triggersDownlink(change('admin'), device, { ...servesFarm, configuredDevice: 'farm-valve-01' }), true);
    assert.equal(triggersDownlink(change('flow'), device, { ...servesFarm, configuredDevice: 'farm/valve-01' }), true);
    assert.equal(triggersDownlink(change('admin'), device, { ...servesFarm, configuredDevice: 'farm/valve-02' }), false);
  });

  it('a node without a device reacts to the devices of the applications it serves', () => {
    assert.equal(triggersDownlink(change('admin'), device, servesFarm), true);
    assert.equal(triggersDownlink(change('admin'), device, { serves: () => false }), false);
  });

  it('never for the value a downlink node stored while sending, a cleared property, or an unknown device', () => {
    assert.equal(triggersDownlink(change('downlink'), device, servesFarm), false);
    assert.equal(triggersDownlink(change('admin', null), device, servesFarm), false);
    assert.equal(triggersDownlink(change('admin'), undefined, servesFarm), false);
  });

  it('msg.storeOnly stores through the registry with origin flow, and refuses what cannot be stored', async () => {
    const calls: unknown[][] = [];
    const registry = {
      resolveDevice: async (ref: unknown) => (ref === 'farm-valve-01' || (typeof ref === 'object' && (ref as { deviceId: string }).deviceId === 'valve-01') ? device : undefined),
      setDownlink: async (...args: unknown[]) => {
        calls.push(args);
        return true;
      },
    };
    assert.deepEqual(await storeDownlinkOnly({ device: 'farm-valve-01', payload: { on: 1 } }, registry), { stored: true, device: 'farm-valve-01' });
    assert.deepEqual(calls, [['farm-valve-01', { on: 1 }, 'flow']]);
    await assert.rejects(storeDownlinkOnly({ device: 'farm-valve-01', payload: { on: 1 } }, undefined), /needs a store/);
    await assert.rejects(storeDownlinkOnly({ device: 'farm-valve-01' }, registry), /payload is empty/);
    await assert.rejects(storeDownlinkOnly({ device: 'farm/valve-09', payload: 1 }, registry), /not in the device registry/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(storeDownlinkOnly({ device: 'farm-valve-01', payload: cyclic }, registry), /cannot be stored as JSON/);
    assert.equal(calls.length, 1);
  });
});
