import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DownlinkEncoder, DownlinkLifecycleTracker, DownlinkSender, type LifecycleReport } from '../../src/downlink';
import { ProfileRegistry } from '../../src/profile/profile-registry';
import { parseProfileConfig } from '../../src/profile/profile-settings';
import { DownlinkTargets } from '../../src/tts/downlink-targets';

const KEY = 'NNSXS.SENDERTESTKEY01.SENDERSECRETABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** A server that reports each request as it arrives and never answers (or answers 200 when asked to). */
async function silentServer(answer = false): Promise<{ url: string; arrived: Promise<IncomingMessage>; close(): Promise<void> }> {
  let signal!: (req: IncomingMessage) => void;
  const arrived = new Promise<IncomingMessage>((resolve) => (signal = resolve));
  const server: Server = createServer((req, res) => {
    signal(req);
    if (answer) req.resume().on('end', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrived,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('downlink sender', () => {
  it('stops a request in flight when aborted (node closed) and forgets its correlation id', async () => {
    const server = await silentServer();
    const profiles = new ProfileRegistry();
    profiles.add({ settings: parseProfileConfig('p1', { applicationId: 'farm-sensors', server: server.url, webhookId: 'node-red' }).settings, webhookToken: 't', apiKey: KEY });
    const reports: LifecycleReport[] = [];
    const tracker = new DownlinkLifecycleTracker({ timeoutMs: 60_000, onReport: (r) => reports.push(r) });
    const sender = new DownlinkSender({
      profiles,
      targets: new DownlinkTargets(),
      encoder: new DownlinkEncoder({ codec: 'raw' }),
      tracker,
      requestTimeoutMs: 30_000,
    });
    const controller = new AbortController();
    const sending = sender.send({ device: 'farm-sensors/valve-01', payload: 'AQoU' }, controller.signal);
    const req = await server.arrived;
    assert.equal(req.url, '/api/v3/as/applications/farm-sensors/webhooks/node-red/devices/valve-01/down/push');
    assert.equal(req.headers.authorization, `Bearer ${KEY}`);
    assert.equal(tracker.size, 1, 'tracked before the answer, since events may come first');
    const started = Date.now();
    controller.abort();
    await assert.rejects(sending, (err: Error) => /cancelled/.test(err.message) && !err.message.includes('SENDERSECRET'));
    assert.ok(Date.now() - started < 1000);
    assert.equal(tracker.size, 0);
    assert.equal(reports.length, 0);
    tracker.close();
    await server.close();
  });

  it('still sends a downlink with its data when the store cannot be reached, and says so', async () => {
    const server = await silentServer(true);
    const profiles = new ProfileRegistry();
    profiles.add({ settings: parseProfileConfig('p1', { applicationId: 'farm-sensors', server: server.url }).settings, webhookToken: 't', apiKey: KEY });
    const tracker = new DownlinkLifecycleTracker({ timeoutMs: 0, onReport: () => undefined });
    const unreachable = {
      resolveDevice: async () => { throw new Error('store unreachable: connect ECONNREFUSED'); },
      setDownlink: async () => { throw new Error('store unreachable'); },
    };
    const sender = new DownlinkSender({ profiles, targets: new DownlinkTargets(), registry: unreachable, encoder: new DownlinkEncoder({ codec: 'raw' }), tracker });
    await assert.rejects(sender.send({ tts: { application_id: 'farm-sensors', device_id: 'valve-01' } }), /stored downlink of farm-sensors\/valve-01 cannot be read: store unreachable/);
    const result = await sender.send({ tts: { application_id: 'farm-sensors', device_id: 'valve-01' }, payload: 'AQoU' });
    assert.equal((await server.arrived).url, '/api/v3/as/applications/farm-sensors/devices/valve-01/down/push', 'no webhook ID: the plain AS path');
    assert.equal(result.frm_payload, 'AQoU');
    assert.equal(result.stored, false);
    assert.match(result.storeError ?? '', /store unreachable/);
    tracker.close();
    await server.close();
  });
});
