import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BackfillService, GapTracker, identityOfStored, runBackfill, type BackfillEvent, type BackfillProfile, type BackfillTarget } from '../../src/backfill';
import { TtsSimulator } from '../../src/sim';
import { TtsApiClient } from '../../src/tts/api';
import { parseApplicationUp } from '../../src/tts/envelope';
import { ttsMessageBus } from '../../src/runtime';
import { timestampNanos } from '../../src/tts/timestamps';
import type { ApplicationUp } from '../../src/tts/types';

const APP = 'gap-app';
const FAST = { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 2, maxRetryAfterMs: 1000 };

/**
 * Takes what backfill feeds in the way webhook-in's inject does (src/inbox/inputs.ts): a body
 * that is not a TTS message is refused with the reason.
 */
class RecordingInput implements BackfillTarget {
  readonly bodies: ApplicationUp[] = [];
  refuseNext = 0;
  async inject(body: string, source: 'backfill'): Promise<void> {
    assert.equal(source, 'backfill');
    if (this.refuseNext > 0) {
      this.refuseNext -= 1;
      throw new Error('the inbox is full');
    }
    parseApplicationUp(JSON.parse(body));
    this.bodies.push(JSON.parse(body) as ApplicationUp);
  }
}

const counterOf = (up: ApplicationUp): string => `${up.end_device_ids.device_id}#${up.uplink_message?.f_cnt ?? 0}`;
/** In the order TTS stores them: by received_at (sub-millisecond digits may swap two of one millisecond). */
const inStoredOrder = (ups: ApplicationUp[]): string[] =>
  [...ups].sort((a, b) => (timestampNanos(a.received_at!)! < timestampNanos(b.received_at!)! ? -1 : 1)).map(counterOf);

describe('backfill from the Storage Integration', function () {
  let sim: TtsSimulator;
  let dir: string;

  beforeEach(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-backfill-'));
    // No webhook: every uplink is "lost" unless the test hands it to the tracker as live.
    sim = new TtsSimulator({ applicationId: APP, devices: 3, storageIntegration: true });
    await sim.start();
  });

  afterEach(async function () {
    await sim.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The next uplink of a device, as generated and stored by TTS. */
  async function uplink(deviceId?: string): Promise<ApplicationUp> {
    const before = new Set(sim.storage.stored(APP));
    await sim.sendUplink(deviceId);
    return sim.storage.stored(APP).find((u) => !before.has(u) && u.uplink_message)!;
  }

  describe('one run over a window', function () {
    it('feeds exactly the uplinks of the gap, in order, paging, skipping both edges', async function () {
      const tracker = new GapTracker({ file: path.join(dir, 'state.json') });
      const live1 = await uplink();
      const live2 = await uplink();
      tracker.received(APP, identityOfStored(live1)!);
      tracker.received(APP, identityOfStored(live2)!);
      tracker.openGap(APP);
      const lost: ApplicationUp[] = [];
      for (let i = 0; i < 7; i++) lost.push(await uplink());
      const liveAfter = await uplink();
      tracker.received(APP, identityOfStored(liveAfter)!);
      const input = new RecordingInput();
      const outcome = await runBackfill({
        client: new TtsApiClient({ server: sim.url, apiKey: sim.apiKey }),
        applicationId: APP,
        from: tracker.gap(APP)!.from,
        to: new Date(Date.now() + 1000).toISOString(),
        pageSize: 3,
        tracker,
        target: input,
      });
      assert.deepEqual(input.bodies.map(counterOf), inStoredOrder(lost));
      assert.deepEqual(new Set(input.bodies.map((b) => b.correlation_ids?.join())), new Set(lost.map((b) => b.correlation_ids?.join())));
      assert.equal(outcome.injected, 7);
      assert.equal(outcome.skipped, 3, 'the two live uplinks at the start edge and the live one at the end');
      assert.ok(outcome.requests >= 4, `paged: ${outcome.requests} requests`);
      const newest = [...lost, liveAfter].map((u) => timestampNanos(u.received_at!)!).reduce((a, b) => (a > b ? a : b));
      assert.equal(timestampNanos(tracker.gap(APP)!.from), newest, 'progress moved the gap start to the last uplink handled');
    });

    it('resumes a stream cut off mid-way without feeding anything twice', async function () {
      const tracker = new GapTracker({ file: path.join(dir, 'state.json') });
      tracker.received(APP, identityOfStored(await uplink())!);
      tracker.openGap(APP);
      const lost: ApplicationUp[] = [];
      for (let i = 0; i < 6; i++) lost.push(await uplink());
      sim.queueFaults([{ cutAfter: 3 }], 'all');
      const input = new RecordingInput();
      const outcome = await runBackfill({
        client: new TtsApiClient({ server: sim.url, apiKey: sim.apiKey, retry: FAST }),
        applicationId: APP,
        from: tracker.gap(APP)!.from,
        to: new Date(Date.now() + 1000).toISOString(),
        pageSize: 100,
        tracker,
        target: input,
      });
      assert.deepEqual(input.bodies.map(counterOf), inStoredOrder(lost));
      assert.equal(outcome.requests, 2);
      assert.ok(sim.apiRequests.some((r) => r.error === 'fault: cut'));
    });
  });

  describe('the service', function () {
    const events: BackfillEvent[] = [];
    const reported = new EventEmitter();
    /** Resolves with the first event (already reported or to come) that matches. */
    const event = (match: (e: BackfillEvent) => boolean): Promise<BackfillEvent> => {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => {
        const on = (e: BackfillEvent): void => {
          if (!match(e)) return;
          reported.off('event', on);
          resolve(e);
        };
        reported.on('event', on);
      });
    };
    let input: RecordingInput;
    let profile: BackfillProfile | undefined;
    let services: BackfillService[];

    beforeEach(function () {
      events.length = 0;
      input = new RecordingInput();
      profile = { profileId: 'p1', server: sim.url, apiKey: sim.apiKey, maxHours: 24 };
      services = [];
    });
    afterEach(async function () {
      for (const service of services) await service.close();
    });

    const start = (options: Partial<ConstructorParameters<typeof BackfillService>[1]> = {}): BackfillService => {
      const service = new BackfillService(
        { profileFor: (appId) => (appId === APP ? profile : undefined), targetFor: () => input, report: (e) => {
          events.push(e);
          reported.emit('event', e);
        } },
        { stateFile: path.join(dir, 'tts-backfill.json'), pageSize: 4, retry: FAST, retryDelaysMs: [], stateWriteIntervalMs: 20, ...options },
      );
      services.push(service);
      return service;
    };
    /** webhook-in accepted it: what the bus sees. */
    const deliver = (up: ApplicationUp): void => ttsMessageBus.publish(parseApplicationUp(up));

    it('after a restart fills the gap once, with nothing received live fed again', async function () {
      const first = start();
      first.flowsStarted();
      const before = [await uplink(), await uplink(), await uplink()];
      before.forEach(deliver);
      await first.close();
      assert.ok(fs.existsSync(path.join(dir, 'tts-backfill.json')), 'state written on close');

      const lost: ApplicationUp[] = [];
      for (let i = 0; i < 9; i++) lost.push(await uplink());
      const second = start();
      const liveAfterStart = await uplink();
      deliver(liveAfterStart); // arrives while the flows start
      second.flowsStarted();
      await second.idle();

      assert.deepEqual(input.bodies.map(counterOf), inStoredOrder(lost));
      const finished = events.find((e) => e.kind === 'finished');
      assert.ok(finished && finished.kind === 'finished');
      assert.equal(finished.outcome.injected, 9);
      assert.equal(second.tracker.gap(APP), undefined, 'gap closed');

      // A deploy right after: the gap it opens holds nothing new.
      await second.close();
      const third = start();
      third.flowsStarted();
      await third.idle();
      assert.equal(input.bodies.length, 9);
      assert.ok(events.filter((e) => e.kind === 'finished').length === 2);
    });

    it('fetches the silence between two live uplinks far apart (deliveries resumed)', async function () {
      const service = start({ reconnectGapMs: 0 });
      // Each uplink a millisecond later than the one before: within one millisecond the simulator's
      // random sub-millisecond digits may put a later uplink first, and then there is no silence.
      const later = async (): Promise<ApplicationUp> => {
        const at = Date.now();
        while (Date.now() === at) await new Promise((resolve) => setImmediate(resolve));
        return uplink();
      };
      deliver(await later());
      await service.idle();
      const lost = [await later(), await later()];
      deliver(await later());
      await service.idle();
      assert.deepEqual(input.bodies.map(counterOf), inStoredOrder(lost));
    });

    it('keeps the gap and says so when the integration is not activated or the key lacks rights; retries what may pass', async function () {
      const first = start();
      deliver(await uplink());
      await first.close();

      sim.setStorageIntegration(false);
      const second = start();
      second.flowsStarted();
      await second.idle();
      const failed = events.find((e) => e.kind === 'failed');
      assert.ok(failed && failed.kind === 'failed' && failed.notActivated && failed.retryInMs === undefined, JSON.stringify(failed));
      assert.ok(!failed.reason.includes(sim.apiKey.split('.')[2]), 'no key in the reason');
      assert.ok(second.tracker.gap(APP), 'gap still open');

      sim.setStorageIntegration(true); // keeps what arrives from now on
      await uplink();
      profile = { ...profile!, apiKey: sim.apiKeys.create(APP, 'down', ['RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE']).key };
      events.length = 0;
      second.flowsStarted();
      await second.idle();
      const refused = events.find((e) => e.kind === 'failed');
      assert.ok(refused && refused.kind === 'failed' && !refused.notActivated && /403/.test(refused.reason) && refused.retryInMs === undefined);

      profile = { ...profile!, apiKey: sim.apiKey };
      sim.queueFaults([{ status: 503 }, { status: 503 }], 'all');
      events.length = 0;
      const retrying = start({ retryDelaysMs: [10] });
      retrying.flowsStarted();
      const outcome = await event((e) => e.kind === 'finished');
      assert.ok(events.some((e) => e.kind === 'failed' && e.retryInMs === 10), 'a 503 is retried after the delay');
      assert.equal(outcome.kind, 'finished');
      assert.equal(input.bodies.length, 1, `the lost uplink arrives once the integration answers: ${JSON.stringify(events)}`);
    });

    it('fetches at most the profile\'s maximum gap, and waits for a webhook-in', async function () {
      const first = start();
      deliver(await uplink());
      await first.close();
      await uplink();
      profile = { ...profile!, maxHours: 1 };
      const later = start({ now: () => Date.now() + 3 * 3_600_000 });
      const target = input;
      input = undefined as unknown as RecordingInput;
      later.flowsStarted();
      await later.idle();
      assert.ok(events.some((e) => e.kind === 'no-input'));
      input = target;
      later.flowsStarted();
      await later.idle();
      const started = events.find((e) => e.kind === 'started');
      assert.ok(started && started.kind === 'started' && started.trimmedFrom !== undefined);
      assert.ok(Date.parse(started.from) > Date.now() + 1.9 * 3_600_000, 'window trimmed to the last hour');
      assert.equal(input.bodies.length, 0, 'the uplink older than the maximum gap is left out');
    });

    it('takes a second look at the end of the gap for uplinks TTS stored late', async function () {
      const slow = new TtsSimulator({ applicationId: APP, devices: 2, storageIntegration: { delayMs: 400 }, webhook: { url: 'http://127.0.0.1:9/tts', token: 't', messageTypes: ['uplink_message'] } });
      await slow.start();
      try {
        profile = { ...profile!, server: slow.url, apiKey: slow.apiKey };
        const first = start();
        const [before] = await slow.sendUplink();
        deliver(before.body);
        await first.close();
        const lost = [(await slow.sendUplink())[0].body, (await slow.sendUplink())[0].body];
        const second = start({ settleMs: 800 });
        second.flowsStarted();
        const recheck = await event((e) => e.kind === 'finished' && e.recheck);
        assert.equal(recheck.kind, 'finished');
        assert.deepEqual(input.bodies.map(counterOf).sort(), lost.map(counterOf).sort(), 'each late uplink fed once, by one pass or the other');
      } finally {
        await slow.stop();
      }
    });
  });
});
