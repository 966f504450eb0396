import assert from 'node:assert/strict';
import { cayenneLpp, CayenneLppError, cayenneLppCodec } from '../../src/codec';
import { b64, hex } from '../helpers/codec-fixtures';

describe('Cayenne LPP (as TTS decodes it)', () => {
  it('decodes worked example A of tts-protocol.md §6.3', () => {
    assert.deepEqual(cayenneLpp.decode(b64('AWcA4QJoUANzJ38=')), {
      temperature_1: 22.5,
      relative_humidity_2: 40,
      barometric_pressure_3: 1011.1,
    });
  });

  it('decodes worked example B (negative analog, 24-bit signed GPS, accelerometer, luminosity)', () => {
    assert.deepEqual(cayenneLpp.decode(hex('04 02 FB 1E 05 00 01 06 88 05 E8 97 FE 9A FF 00 11 A8 07 71 00 0C FC 2C 00 23 08 65 02 12')), {
      analog_in_4: -12.5,
      digital_in_5: 1,
      gps_6: { latitude: 38.7223, longitude: -9.1393, altitude: 45.2 },
      accelerometer_7: { x: 0.012, y: -0.98, z: 0.035 },
      luminosity_8: 530,
    });
    assert.deepEqual(cayenneLpp.decode(b64('BAL7HgUAAQaIBeiX/pr/ABGoB3EADPwsACMIZQIS')), cayenneLpp.decode(hex('0402FB1E0500010688 05E897 FE9AFF 0011A8 077100 0CFC2C0023 08650212')));
  });

  it('decodes every one of the 12 types with its resolution and signedness', () => {
    const frame = hex(
      [
        '00 00 FF', // digital_in 255 (unsigned)
        '01 01 80', // digital_out 128
        '02 02 FF 9C', // analog_in -1.00 (signed)
        '03 03 01 2C', // analog_out 3.00
        '04 65 FF FF', // luminosity 65535 (unsigned)
        '05 66 01', // presence 1
        '06 67 FF 38', // temperature -20.0 (signed)
        '07 68 C8', // humidity 200 * 0.5 = 100 (unsigned)
        '08 71 03 E8 FC 18 00 00', // accelerometer 1, -1, 0
        '09 73 80 00', // barometric pressure: signed in TTS → -3276.8
        '0A 86 27 10 D8 F0 00 01', // gyrometer 100, -100, 0.01
        '0B 88 FF FF FF 00 00 01 FF FF 9C', // gps -0.0001, 0.0001, -1.00
      ].join(''),
    );
    assert.deepEqual(cayenneLpp.decode(frame), {
      digital_in_0: 255,
      digital_out_1: 128,
      analog_in_2: -1,
      analog_out_3: 3,
      luminosity_4: 65535,
      presence_5: 1,
      temperature_6: -20,
      relative_humidity_7: 100,
      accelerometer_8: { x: 1, y: -1, z: 0 },
      barometric_pressure_9: -3276.8,
      gyrometer_10: { x: 100, y: -100, z: 0.01 },
      gps_11: { latitude: -0.0001, longitude: 0.0001, altitude: -1 },
    });
  });

  it('lets a repeated channel+type overwrite the earlier value and keeps channels apart', () => {
    assert.deepEqual(cayenneLpp.decode(hex('01 67 00 0A 01 67 00 14 02 67 00 1E')), { temperature_1: 2, temperature_2: 3 });
  });

  it('decodes an empty frame to an empty object', () => {
    assert.deepEqual(cayenneLpp.decode([]), {});
  });

  it('fails the whole frame on a truncated value, a missing type byte or an unknown type', () => {
    assert.throws(() => cayenneLpp.decode(hex('01 67 00 E1 02 68')), (e: unknown) => e instanceof CayenneLppError && /truncated frame: relative_humidity on channel 2/.test(e.message));
    assert.throws(() => cayenneLpp.decode(hex('01 67 00 E1 02')), /truncated frame: channel 2 has no type byte/);
    assert.throws(() => cayenneLpp.decode(hex('01 67 00 E1 03 74 01 2C')), /unknown Cayenne LPP type 0x74 on channel 3/);
    assert.throws(() => cayenneLpp.decode(hex('01 85 00 00 00 01')), /unknown Cayenne LPP type 0x85/);
    assert.throws(() => cayenneLpp.decode([1, 300]), /byte 1 is 300/);
  });

  it('round-trips encode → decode for every type, including negative and fractional values', () => {
    const values = {
      digital_in_1: 1,
      digital_out_2: 0,
      analog_in_3: -327.68,
      analog_out_4: 12.34,
      luminosity_5: 1200,
      presence_6: 1,
      temperature_7: -12.3,
      relative_humidity_8: 57.5,
      accelerometer_9: { x: -0.5, y: 0.25, z: 1.001 },
      barometric_pressure_10: 1011.1,
      gyrometer_11: { x: -12.5, y: 0, z: 300.01 },
      gps_12: { latitude: 52.3676, longitude: -4.9041, altitude: -10.5 },
    };
    assert.deepEqual(cayenneLpp.decode(cayenneLpp.encode(values)), values);
    assert.deepEqual(cayenneLpp.encode(cayenneLpp.decode(b64('AWcA4QJoUANzJ38='))), b64('AWcA4QJoUANzJ38='));
  });

  it('refuses to encode unknown keys and out-of-range values', () => {
    assert.throws(() => cayenneLpp.encode({ voltage_1: 3.3 }), /"voltage_1" is not a Cayenne LPP key/);
    assert.throws(() => cayenneLpp.encode({ temperature_300: 1 }), /not a Cayenne LPP key/);
    assert.throws(() => cayenneLpp.encode({ relative_humidity_1: 200 }), /out of range/);
    assert.throws(() => cayenneLpp.encode({ temperature_1: 'warm' }), /must be a finite number/);
  });

  it('encodes downlinks in the value_<channel> form with truncation, ignoring other keys', () => {
    assert.deepEqual(cayenneLpp.encodeDownlink({ value_2: -50.51 }), hex('02 EC 45'));
    assert.deepEqual(cayenneLpp.encodeDownlink({ value_1: 1, note: 'ignored', value_x: 3, value_3: 'text' }), hex('01 00 64'));
    // trunc, not round: 0.29 * 100 is 28.999… in float64, as in TTS's Go code
    assert.deepEqual(cayenneLpp.encodeDownlink({ value_4: 0.29 }), hex('04 00 1C'));
    assert.throws(() => cayenneLpp.encodeDownlink({ value_1: 400 }), /out of range/);
  });

  it('decodes downlinks until the end or a 0xFF channel byte', () => {
    assert.deepEqual(cayenneLpp.decodeDownlink(hex('02 EC 45 01 00 64')), { value_2: -50.51, value_1: 1 });
    assert.deepEqual(cayenneLpp.decodeDownlink(hex('01 00 64 FF 02 00 01')), { value_1: 1 });
    assert.throws(() => cayenneLpp.decodeDownlink(hex('01 00')), /truncated downlink frame/);
    const down = { value_0: 0, value_7: 327.67, value_9: -327.68 };
    assert.deepEqual(cayenneLpp.decodeDownlink(cayenneLpp.encodeDownlink(down)), down);
  });

  it('tells LPP frames from other bytes (for the auto codec)', () => {
    assert.equal(cayenneLpp.isLpp(b64('AWcA4QJoUANzJ38=')), true);
    assert.equal(cayenneLpp.isLpp(hex('34 08 10 17')), false);
    assert.equal(cayenneLpp.isLpp([]), false);
  });

  it('serves the same codec interface as scripts, with errors instead of throws', () => {
    const ok = cayenneLppCodec.decodeUplink({ bytes: b64('AWcA4QJoUANzJ38='), fPort: 1 });
    assert.deepEqual(ok, { data: { temperature_1: 22.5, relative_humidity_2: 40, barometric_pressure_3: 1011.1 }, warnings: [], errors: [], logs: [] });
    const bad = cayenneLppCodec.decodeUplink({ bytes: hex('01 74 00'), fPort: 1 });
    assert.equal(bad.data, undefined);
    assert.match(bad.errors[0], /unknown Cayenne LPP type 0x74/);
    assert.equal(bad.error?.kind, 'script');
    assert.deepEqual(cayenneLppCodec.encodeDownlink({ data: { value_2: -50.51 }, fPort: 9 }).bytes, hex('02 EC 45'));
    assert.deepEqual(cayenneLppCodec.decodeDownlink({ bytes: hex('02 EC 45') }).data, { value_2: -50.51 });
  });
});
