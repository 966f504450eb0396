import { strict as assert } from 'node:assert';
import {
  chooseEndpoint,
  correlationIdsOf,
  DownlinkInputError,
  DownlinkLifecycleTracker,
  downlinkUrlFor,
  newCorrelationId,
  parsePriority,
  resolveDownlinkDevice,
  resolveSettings,
  type LifecycleReport,
  type TrackedDownlink,
} from '../../src/downlink';
import type { DeviceRecord } from '../../src/store/types';
import { parseApplicationUp } from '../../src/tts/envelope';
import type { ApplicationUp } from '../../src/tts/types';
import { ttsFixture } from '../helpers/tts-fixtures';

const PROFILE = { fPort: 1, confirmed: false, priority: 'NORMAL' as const, queue: 'push' as const };

describe('downlink settings, targets and endpoints', () => {
  describe('settings with message overrides', () => {
    it('takes the profile when the message overrides nothing', () => {
      assert.deepEqual(resolveSettings(PROFILE, {}), { ...PROFILE, fPortFromMessage: false });
    });

    it('applies each override, accepting the forms a flow naturally produces', () => {
      assert.deepEqual(resolveSettings(PROFILE, { fPort: '12', confirmed: 'true', priority: 'high', queue: 'replace' }), {
        fPort: 12,
        fPortFromMessage: true,
        confirmed: true,
        priority: 'HIGH',
        queue: 'replace',
      });
      assert.equal(parsePriority(6), 'HIGHEST');
      assert.equal(parsePriority(0), 'LOWEST');
    });

    it('refuses bad overrides with the property name', () => {
      for (const [overrides, pattern] of [
        [{ fPort: 0 }, /msg\.fPort.*1 to 223/],
        [{ fPort: 224 }, /msg\.fPort/],
        [{ fPort: 1.5 }, /msg\.fPort/],
        [{ confirmed: 'yes' }, /msg\.confirmed/],
        [{ priority: 'URGENT' }, /msg\.priority.*LOWEST/],
        [{ priority: 7 }, /msg\.priority/],
        [{ queue: 'append' }, /msg\.queue/],
      ] as const) {
        assert.throws(() => resolveSettings(PROFILE, overrides), (err: Error) => err instanceof DownlinkInputError && pattern.test(err.message), JSON.stringify(overrides));
      }
    });
  });

  describe('target device', () => {
    const record = { id: 'dev-valve-12', applicationId: 'farm-sensors', deviceId: 'valve-12', downlink: { a: 1 } } as DeviceRecord;
    const registry = {
      async resolveDevice(ref: string | { applicationId: string; deviceId: string }) {
        if (typeof ref === 'string') return ref === record.id || ref === 'farm-sensors/valve-12' ? record : undefined;
        return ref.applicationId === record.applicationId && ref.deviceId === record.deviceId ? record : undefined;
      },
    };

    it('prefers msg.device, then msg.tts, then the node setting', async () => {
      const tts = { application_id: 'farm-sensors', device_id: 'pump-1' };
      assert.equal((await resolveDownlinkDevice({ device: 'dev-valve-12', tts, configured: 'x/y' }, registry)).record, record);
      const fromTts = await resolveDownlinkDevice({ tts, configured: 'dev-valve-12' }, registry);
      assert.deepEqual(fromTts, { applicationId: 'farm-sensors', deviceId: 'pump-1', source: 'msg.tts' });
      assert.equal((await resolveDownlinkDevice({ configured: 'dev-valve-12' }, registry)).source, 'node');
    });

    it('accepts a device record, snake_case ids and app/dev text without a store', async () => {
      assert.equal((await resolveDownlinkDevice({ device: { ...record, downlink: 'stale' } }, registry)).record, record);
      assert.deepEqual(await resolveDownlinkDevice({ device: { application_id: 'other-app', device_id: 'dev-1' } }, registry), {
        applicationId: 'other-app',
        deviceId: 'dev-1',
        source: 'msg.device',
      });
      assert.deepEqual(await resolveDownlinkDevice({ device: 'farm-sensors/valve-99' }), { applicationId: 'farm-sensors', deviceId: 'valve-99', source: 'msg.device' });
    });

    it('explains what is missing', async () => {
      await assert.rejects(resolveDownlinkDevice({ device: 'dev-nope' }, registry), /no device "dev-nope" in the registry/);
      await assert.rejects(resolveDownlinkDevice({ device: 'dev-valve-12' }), /no store/);
      await assert.rejects(resolveDownlinkDevice({ device: 42 }), /msg\.device must be/);
      await assert.rejects(resolveDownlinkDevice({ device: 'Bad_App/dev' }), /not a valid TTS ID/);
      await assert.rejects(resolveDownlinkDevice({}), /no target device/);
    });
  });

  describe('where to post', () => {
    const push = 'https://eu1.cloud.thethings.network/api/v3/as/applications/farm-sensors/webhooks/node-red/devices/soil-7/down/push';

    it('rewrites the announced URL for another device and for replace', () => {
      assert.equal(downlinkUrlFor(push, 'farm-sensors', 'valve-12', 'replace'), push.replace('soil-7/down/push', 'valve-12/down/replace'));
      assert.equal(downlinkUrlFor(push, 'other-app', 'valve-12', 'push'), undefined);
      assert.equal(downlinkUrlFor('https://example.com/hook', 'farm-sensors', 'valve-12', 'push'), undefined);
      assert.equal(downlinkUrlFor('not a url', 'farm-sensors', 'valve-12', 'push'), undefined);
    });

    it('uses captured headers with their key, else the profile, else says what to configure', () => {
      const captured = { pushUrl: push, replaceUrl: push.replace('/push', '/replace'), apiKey: 'NNSXS.K.S', seenAt: 0 };
      const profile = { server: 'https://eu1.cloud.thethings.network', webhookId: 'node-red', apiKey: 'NNSXS.P.S' };
      assert.deepEqual(chooseEndpoint(captured, 'farm-sensors', 'valve-12', 'push', profile), {
        source: 'webhook-headers',
        url: push.replace('soil-7', 'valve-12'),
        apiKey: 'NNSXS.K.S',
      });
      assert.deepEqual(chooseEndpoint({ ...captured, apiKey: undefined }, 'farm-sensors', 'valve-12', 'push', profile), { source: 'profile' });
      assert.deepEqual(chooseEndpoint(undefined, 'farm-sensors', 'valve-12', 'push', profile), { source: 'profile' });
      assert.throws(() => chooseEndpoint(undefined, 'farm-sensors', 'valve-12', 'push', { ...profile, server: '' }), /no downlink address.*server URL/);
      assert.throws(() => chooseEndpoint(undefined, 'farm-sensors', 'valve-12', 'push', { ...profile, apiKey: '' }), /no API key/);
    });
  });

  describe('lifecycle tracker', () => {
    function downlinkEvent(type: 'downlink_queued' | 'downlink_sent' | 'downlink_ack' | 'downlink_nack' | 'downlink_failed', correlationId: string) {
      const body = structuredClone(ttsFixture(type)) as ApplicationUp;
      const ids = ['as:downlink:01J0000000000000000000000', correlationId];
      body.correlation_ids = ids;
      if (type === 'downlink_failed') body.downlink_failed!.downlink = { ...body.downlink_failed!.downlink, correlation_ids: ids };
      else (body[type] as { correlation_ids?: string[] }).correlation_ids = ids;
      return parseApplicationUp(body);
    }

    function tracked(confirmed: boolean, timeoutMs = 10_000) {
      const reports: LifecycleReport[] = [];
      let onReport: (r: LifecycleReport) => void = () => undefined;
      const tracker = new DownlinkLifecycleTracker({ timeoutMs, onReport: (r) => { reports.push(r); onReport(r); } });
      const downlink: TrackedDownlink = {
        correlationId: newCorrelationId(),
        msgid: 'msg-1',
        applicationId: 'farm-sensors',
        deviceId: 'valve-12',
        confirmed,
        fPort: 1,
        priority: 'NORMAL',
        queue: 'push',
        requestedAt: Date.now(),
      };
      tracker.track(downlink);
      const next = () => new Promise<LifecycleReport>((resolve) => { onReport = resolve; });
      return { tracker, downlink, reports, next };
    }

    it('ends a confirmed downlink at ack, through a nack, with a timeline', () => {
      const { tracker, downlink, reports } = tracked(true);
      for (const type of ['downlink_queued', 'downlink_sent', 'downlink_nack', 'downlink_sent', 'downlink_ack'] as const) {
        assert.equal(tracker.handle(downlinkEvent(type, downlink.correlationId)), true, type);
      }
      assert.deepEqual(reports.map((r) => [r.event, r.final]), [['queued', false], ['sent', false], ['nack', false], ['sent', false], ['ack', true]]);
      assert.deepEqual(Object.keys(reports[4].timeline).sort(), ['ack', 'nack', 'queued', 'sent']);
      assert.equal(tracker.size, 0);
      assert.equal(tracker.handle(downlinkEvent('downlink_ack', downlink.correlationId)), false, 'forgotten after the end');
      tracker.close();
    });

    it('ends an unconfirmed downlink at sent and a failed one with TTS error text', () => {
      const a = tracked(false);
      a.tracker.handle(downlinkEvent('downlink_sent', a.downlink.correlationId));
      assert.deepEqual(a.reports.map((r) => [r.event, r.final]), [['sent', true]]);
      const b = tracked(true);
      b.tracker.handle(downlinkEvent('downlink_failed', b.downlink.correlationId));
      assert.equal(b.reports[0].event, 'failed');
      assert.equal(b.reports[0].final, true);
      assert.equal(b.reports[0].error?.name, ttsFixture('downlink_failed').downlink_failed.error.name);
      assert.ok(!/\{\w+\}/.test(b.reports[0].error?.message ?? '{x}'), 'placeholders filled');
    });

    it('ignores other messages and other correlation ids', () => {
      const { tracker, reports } = tracked(true);
      assert.equal(tracker.handle(downlinkEvent('downlink_ack', newCorrelationId())), false);
      assert.equal(tracker.handle(parseApplicationUp(ttsFixture('uplink_message'))), false);
      assert.equal(reports.length, 0);
      assert.ok(correlationIdsOf(downlinkEvent('downlink_failed', 'x')).includes('x'));
      tracker.close();
    });

    it('reports unconfirmed when no final outcome arrives in time', async () => {
      const { tracker, downlink, next } = tracked(true, 50);
      tracker.handle(downlinkEvent('downlink_queued', downlink.correlationId));
      const report = await next();
      assert.equal(report.event, 'unconfirmed');
      assert.equal(report.final, true);
      assert.ok(report.elapsedMs >= 45);
      assert.deepEqual(Object.keys(report.timeline).sort(), ['queued', 'unconfirmed']);
      assert.equal(tracker.size, 0);
    });
  });
});
