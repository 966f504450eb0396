import assert from 'node:assert/strict';
import { bytesFromBase64, bytesFromHex, bytesFromValue } from '../../src/codec';
import { stringBytes } from '../../src/downlink';

// One reader of hex and base64 text for the decode node, its test tool and the downlink encoder.

describe('payload input: the one hex / base64 parser', () => {
  it('reads hex with or without 0x prefixes and separators', () => {
    for (const text of ['010A14', '01 0a 14', '0x01 0x0A 0x14', '01:0A:14', '01,0a,14', '01-0A-14', ' 0x010a14\n']) {
      assert.deepEqual(bytesFromHex(text), [1, 10, 20], text);
    }
    for (const text of ['010A1', 'zz', '01 0G']) assert.throws(() => bytesFromHex(text), /^PayloadInputError: not valid hex \(pairs of 0-9, a-f\)$/, text);
  });

  it('reads standard, URL-safe and unpadded base64', () => {
    for (const text of ['AQoU', 'AQoUDw==', 'AQoUDw', ' AQ oU Dw == ', '-_8=', '-_8']) assert.ok(bytesFromBase64(text).length > 0, text);
    assert.deepEqual(bytesFromBase64('AQoUDw'), [1, 10, 20, 15]);
    assert.deepEqual(bytesFromBase64('-_8'), [0xfb, 0xff]);
    for (const text of ['AQoU!', 'AQoUD', 'AQ=oU', 'AQo=U===']) assert.throws(() => bytesFromBase64(text), /^PayloadInputError: not valid base64$/, text);
    assert.throws(() => bytesFromValue('not base64!'), /not valid base64/);
  });

  it('is what the downlink encoder reads raw strings with (same leniency, its own messages)', () => {
    assert.deepEqual([...stringBytes('0x01 0x0A 0x14', 'auto')], [1, 10, 20]);
    assert.deepEqual([...stringBytes('01,0a,14', 'hex')], [1, 10, 20]);
    assert.deepEqual([...stringBytes('AQoUDw', 'base64')], [1, 10, 20, 15]);
    assert.deepEqual([...stringBytes('-_8', 'auto')], [0xfb, 0xff]);
    assert.throws(() => stringBytes('AQoUD', 'base64'), /msg\.payload is neither hex nor base64/);
    assert.throws(() => stringBytes('AQoU', 'hex'), /msg\.payload is not hex text/);
  });
});
