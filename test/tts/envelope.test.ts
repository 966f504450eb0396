import { strict as assert } from 'node:assert';
import { InvalidTtsMessage, parseApplicationUp, payloadOf, topicOf } from '../../src/tts/envelope';
import { MESSAGE_TYPES } from '../../src/tts/types';
import { ttsFixture } from '../helpers/tts-fixtures';

describe('TTS envelope', () => {
  for (const type of MESSAGE_TYPES) {
    it(`parses the ${type} fixture`, () => {
      const body = ttsFixture(type);
      const envelope = parseApplicationUp(body);
      assert.equal(envelope.type, type);
      assert.equal(envelope.device_id, 'eui-70b3d57ed005a1b2');
      assert.equal(envelope.application_id, 'farm-sensors');
      assert.equal(topicOf(envelope), `farm-sensors/eui-70b3d57ed005a1b2/${type}`);
      assert.equal(envelope.raw, body);
      assert.equal(envelope.message, body[type]);
    });
  }

  it('copies frame fields of downlink events, including a failed downlink', () => {
    const failed = parseApplicationUp(ttsFixture('downlink_failed'));
    assert.equal(failed.f_port, 15);
    assert.equal(failed.frm_payload, 'AQoU');
    assert.equal(failed.dev_eui, undefined);
    const ack = parseApplicationUp(ttsFixture('downlink_ack'));
    assert.equal(ack.f_cnt, 42);
    assert.deepEqual(payloadOf(ack), ttsFixture('downlink_ack').downlink_ack);
  });

  it('gives location_solved its location under the service name', () => {
    const envelope = parseApplicationUp(ttsFixture('location_solved'));
    assert.deepEqual(envelope.locations, { 'frm-payload': { latitude: 38.7223, longitude: -9.1393, altitude: 45.2, source: 'SOURCE_GPS' } });
  });

  it('upper-cases EUIs and fills received_at when TTS sent none', () => {
    const body = ttsFixture('join_accept');
    body.end_device_ids.dev_eui = '70b3d57ed005a1b2';
    delete body.received_at;
    const envelope = parseApplicationUp(body);
    assert.equal(envelope.dev_eui, '70B3D57ED005A1B2');
    assert.ok(!Number.isNaN(Date.parse(envelope.received_at)));
  });

  const invalid: Array<[string, unknown, string]> = [
    ['null', null, '(body)'],
    ['end_device_ids a string', { end_device_ids: 'x', join_accept: {} }, 'end_device_ids'],
    ['application id missing', { end_device_ids: { device_id: 'dev-1' }, join_accept: {} }, 'end_device_ids.application_ids.application_id'],
    ['message not an object', { ...ttsFixture('join_accept'), join_accept: 'yes' }, 'join_accept'],
    ['f_cnt negative', (() => { const b = ttsFixture('uplink_message'); b.uplink_message.f_cnt = -1; return b; })(), 'uplink_message.f_cnt'],
    ['dev_eui not hex', (() => { const b = ttsFixture('uplink_message'); b.end_device_ids.dev_eui = 'XYZ'; return b; })(), 'end_device_ids.dev_eui'],
    ['correlation_ids not strings', { ...ttsFixture('join_accept'), correlation_ids: [1] }, 'correlation_ids'],
    ['received_at not a time', { ...ttsFixture('join_accept'), received_at: 'yesterday' }, 'received_at'],
    ['decoded_payload an array', (() => { const b = ttsFixture('uplink_message'); b.uplink_message.decoded_payload = [1]; return b; })(), 'uplink_message.decoded_payload'],
    ['rx_metadata entry not an object', (() => { const b = ttsFixture('uplink_message'); b.uplink_message.rx_metadata = [1]; return b; })(), 'uplink_message.rx_metadata[0]'],
    ['failed downlink error a string', { ...ttsFixture('downlink_failed'), downlink_failed: { error: 'x' } }, 'downlink_failed.error'],
  ];
  for (const [label, body, field] of invalid) {
    it(`refuses ${label}, naming ${field}`, () => {
      assert.throws(() => parseApplicationUp(body), (err: unknown) => err instanceof InvalidTtsMessage && err.field === field);
    });
  }
});
