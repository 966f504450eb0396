import { strict as assert } from 'node:assert';
import { EventLog, MAX_LOG_PROFILES, type LogEvent } from '../../src/monitor/event-log';

describe('monitor: event log', () => {
  it('keeps the newest events of each profile up to its capacity, newest first', () => {
    const log = new EventLog(3);
    for (let i = 1; i <= 5; i++) log.record({ kind: 'webhook', outcome: 'accepted', profile: 'a', deviceId: `d${i}`, at: i });
    log.record({ kind: 'webhook', outcome: 'refused', error: true, profile: 'b', reason: 'the bearer token matches no profile' });
    assert.deepEqual(log.list({ profile: 'a' }).map((e) => e.deviceId), ['d5', 'd4', 'd3']);
    assert.deepEqual(log.list().map((e) => e.profile), ['b', 'a', 'a', 'a']);
    assert.deepEqual(log.profiles().sort(), ['a', 'b']);
    assert.deepEqual(log.list({ profile: 'none' }), []);
  });

  it('a flood for one profile does not push out the history of another', () => {
    const log = new EventLog(10);
    log.record({ kind: 'downlink', outcome: 'ack', profile: 'farm', deviceId: 'valve-01' });
    for (let i = 0; i < 1000; i++) log.record({ kind: 'webhook', outcome: 'refused', error: true, profile: '', reason: 'unknown token' });
    assert.equal(log.list({ profile: 'farm' }).length, 1);
    assert.equal(log.list({ profile: '' }).length, 10);
    assert.equal(log.list().length, 11);
  });

  it('keeps the rings of at most maxProfiles profiles, dropping the one that logged last longest ago', () => {
    const log = new EventLog(5, 3);
    log.record({ kind: 'provision', outcome: 'created', profile: 'old', deviceId: 'd1' });
    log.record({ kind: 'provision', outcome: 'created', profile: 'busy', deviceId: 'd2' });
    log.record({ kind: 'provision', outcome: 'created', profile: 'quiet', deviceId: 'd3' });
    log.record({ kind: 'provision', outcome: 'online', profile: 'old', deviceId: 'd1' });
    log.record({ kind: 'provision', outcome: 'online', profile: 'busy', deviceId: 'd2' });
    log.record({ kind: 'provision', outcome: 'created', profile: 'removed-long-ago', deviceId: 'd4' });
    assert.deepEqual(log.profiles().sort(), ['busy', 'old', 'removed-long-ago']);
    assert.deepEqual(log.list({ profile: 'old' }).map((e) => e.outcome), ['online', 'created']);
    // A device record per removed profile: the log stays at capacity × maxProfiles entries.
    const bounded = new EventLog(2);
    for (let i = 0; i < 1_000; i++) for (let k = 0; k < 3; k++) bounded.record({ kind: 'provision', outcome: 'offline', profile: `p${i}`, deviceId: `d${k}` });
    assert.equal(bounded.profiles().length, MAX_LOG_PROFILES);
    assert.equal(bounded.list().length, 2 * MAX_LOG_PROFILES);
    assert.ok(bounded.profiles().includes('p999'));
    assert.equal(bounded.profiles().includes('p0'), false);
  });

  it('filters by kind, device (registry id, device id or application/device) and seq, with a limit', () => {
    const log = new EventLog();
    log.record({ kind: 'webhook', outcome: 'accepted', profile: 'p', applicationId: 'app', deviceId: 'sensor-1' });
    log.record({ kind: 'decode', outcome: 'failed', error: true, profile: 'p', applicationId: 'app', deviceId: 'sensor-2', reason: 'boom' });
    log.record({ kind: 'provision', outcome: 'created', profile: 'p', applicationId: 'app', deviceId: 'sensor-2', device: 'farm-sensor-2' });
    const third = log.record({ kind: 'downlink', outcome: 'requested', profile: 'p', applicationId: 'other', deviceId: 'sensor-1' });
    assert.deepEqual(log.list({ kind: 'decode' }).map((e) => e.reason), ['boom']);
    assert.deepEqual(log.list({ device: 'FARM-sensor-2' }).map((e) => e.outcome), ['created']);
    assert.deepEqual(log.list({ device: 'app/sensor-1' }).map((e) => e.outcome), ['accepted']);
    assert.deepEqual(log.list({ device: 'sensor-1' }).map((e) => e.outcome), ['requested', 'accepted']);
    assert.deepEqual(log.list({ after: third - 1 }).map((e) => e.seq), [third]);
    assert.equal(log.list({ limit: 2 }).length, 2);
    assert.equal(log.list({ limit: 2 })[0].seq, third);
  });

  it('gives every entry back as recorded, with the fields it had and none it had not, also after the ring wrapped around', () => {
    const log = new EventLog(3);
    const full = { kind: 'downlink', outcome: 'failed', error: true, profile: 'p', applicationId: 'app', deviceId: 'valve-1', device: 'x-valve-1', reason: 'TTS answered 403', detail: { status: 403, queue: 'push', confirmed: false }, at: 7 } as const;
    const bare = { kind: 'webhook', outcome: 'accepted', profile: 'p', at: 8 } as const;
    const notAnError = { kind: 'decode', outcome: 'ok', error: false, profile: 'p', deviceId: 'd', at: 9 } as const;
    for (let round = 0; round < 2; round++) {
      const seqs = [full, bare, notAnError].map((e) => log.record(e));
      assert.deepEqual(log.list(), [
        { ...notAnError, seq: seqs[2] },
        { ...bare, seq: seqs[1] },
        { ...full, seq: seqs[0] },
      ]);
    }
    assert.equal(Object.hasOwn(log.list()[1], 'error'), false);
    assert.equal(log.list()[0].error, false);
  });

  it('emits each new event with its sequence number and time', () => {
    const log = new EventLog();
    const seen: LogEvent[] = [];
    log.on('event', (e: LogEvent) => seen.push(e));
    const before = Date.now();
    log.record({ kind: 'webhook', outcome: 'accepted', profile: 'p' });
    log.record({ kind: 'webhook', outcome: 'accepted', profile: 'p', at: 42 });
    assert.equal(seen.length, 2);
    assert.ok(seen[0].at >= before);
    assert.equal(seen[1].at, 42);
    assert.ok(seen[1].seq > seen[0].seq);
  });

  it('refuses a capacity or a profile bound that is not a whole number ≥ 1', () => {
    assert.throws(() => new EventLog(0), RangeError);
    assert.throws(() => new EventLog(1.5), RangeError);
    assert.throws(() => new EventLog(10, 0), RangeError);
  });
});
