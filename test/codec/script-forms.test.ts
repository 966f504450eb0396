import assert from 'node:assert/strict';
import { createCodec } from '../../src/codec';
import { b64, fixture, hex } from '../helpers/codec-fixtures';

describe('codec engine: script forms', () => {
  describe('the two DESIGN.md example scripts, unchanged (plugin form)', () => {
    const codec = createCodec(fixture('design-examples.js'));

    it('is detected as the plugin form with uplink and downlink', () => {
      assert.equal(codec.form, 'plugin');
      assert.deepEqual(codec.capabilities, { decodeUplink: true, encodeDownlink: true, decodeDownlink: false });
    });

    it('decodes the 4-byte uplink from its base64 payload (signed 16-bit LE / 100)', () => {
      const r = codec.decodeUplink({ bytes: hex('34 08 10 17'), fPort: 1 });
      assert.deepEqual(r, { data: { temperature: 21, humidity: 59.04 }, warnings: [], errors: [], logs: [] });
      assert.deepEqual(codec.decodeUplink({ bytes: hex('0C FE 00 00'), fPort: 1 }).data, { temperature: -5, humidity: 0 });
    });

    it('encodes { enabled: true, frequency: 10, threshold: 20 } to AQoU', () => {
      const r = codec.encodeDownlink({ data: { enabled: true, frequency: 10, threshold: 20 }, fPort: 1 });
      assert.equal(Buffer.from(r.bytes ?? []).toString('base64'), 'AQoU');
      assert.deepEqual(r.errors, []);
    });
  });

  describe('plugin form with TTS-decoded payloads and object downlinks', () => {
    const codec = createCodec(fixture('water-meter-plugin.js'));

    it('decodes raw bytes when TTS did not decode the frame', () => {
      const r = codec.decodeUplink({ bytes: hex('00 00 01 F4 05'), fPort: 2 });
      assert.deepEqual(r.data, { volume_l: 250, leak: true, backflow: false, valve: 'closed', source: 'script' });
    });

    it('gets TTS decoded_payload and the message when TTS already decoded it', () => {
      const r = codec.decodeUplink({ bytes: hex('00'), fPort: 2, decodedPayload: { pulses: 10, leak: 0 }, message: { f_cnt: 77 } });
      assert.deepEqual(r.data, { volume_l: 5, leak: false, source: 'tts', f_cnt: 77 });
    });

    it('turns { f_port, frm_payload } into bytes and fPort', () => {
      const r = codec.encodeDownlink({ data: { valve: 'close' }, device: { name: 'm1' } });
      assert.deepEqual(r.bytes, [0x10, 1]);
      assert.equal(r.fPort, 3);
    });

    it('passes { f_port, decoded_payload } on for TTS to encode, with the device argument', () => {
      const r = codec.encodeDownlink({ data: { report: 'daily' }, device: { name: 'meter-7' } });
      assert.equal(r.bytes, undefined);
      assert.deepEqual(r.decodedPayload, { report: 'daily', meter: 'meter-7' });
      assert.equal(r.fPort, 4);
    });
  });

  describe('what each form is handed, as in TTS', () => {
    const keysOf = 'function decodeUplink(input) { return { data: { keys: Object.keys(input).sort(), port: input.fPort } }; }';
    const fromWebhook = { bytes: hex('01 02'), fPort: 5, recvTime: new Date(0), decodedPayload: { t: 1 }, message: { f_cnt: 9, rx_metadata: [] } };

    it('decodeUplink gets bytes, fPort and recvTime only, not the plugin form\'s message and decoded payload', async () => {
      const codec = createCodec(keysOf);
      try {
        assert.deepEqual(codec.decodeUplink(fromWebhook).data, { keys: ['bytes', 'fPort', 'recvTime'], port: 5 });
        assert.deepEqual((await codec.decodeUplinkQueued(fromWebhook)).data, { keys: ['bytes', 'fPort', 'recvTime'], port: 5 });
      } finally {
        codec.close();
      }
    });

    it('the plugin form still gets the message, in the codec thread too', async () => {
      const codec = createCodec('module.exports.uplink = function (payload, message) { return { payload: payload, fCnt: message.f_cnt }; };');
      try {
        assert.deepEqual((await codec.decodeUplinkQueued(fromWebhook)).data, { payload: { t: 1 }, fCnt: 9 });
      } finally {
        codec.close();
      }
    });
  });

  describe('TTS codec API: a ~200-line vendor codec (fixtures/acme-env-sensor.js)', () => {
    const codec = createCodec(fixture('acme-env-sensor.js'));
    const report = hex('01 75 5C 03 67 10 01 04 68 71 05 7D 67 04 06 73 8B 27 07 00 01 08 CB 86 09 92 E8 03 18 FC 00 00 FF 0A 01 04 FF 16 67 45 23 01 EF CD AB 89');

    it('is detected as the TTS form with all three functions', () => {
      assert.equal(codec.form, 'tts');
      assert.deepEqual(codec.capabilities, { decodeUplink: true, encodeDownlink: true, decodeDownlink: true });
    });

    it('decodes a periodic report: signed and unsigned values, a bit field, a serial number', () => {
      const r = codec.decodeUplink({ bytes: report, fPort: 5 });
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.data, {
        battery: 92,
        temperature: 27.2,
        humidity: 56.5,
        co2: 1127,
        pressure: 1012.3,
        door: 'open',
        status: { tamper: false, low_battery: true, mode: 'eco', button: true },
        acceleration: { x: 1, y: -1, z: 0 },
        firmware: 'v1.4',
        serial: '67452301efcdab89',
      });
      assert.deepEqual(r.warnings, ['battery low']);
    });

    it('reports negative temperatures and range warnings', () => {
      const r = codec.decodeUplink({ bytes: hex('03 67 38 FE 05 7D 2C 01'), fPort: 5 });
      assert.deepEqual(r.data, { temperature: -45.6, co2: 300 });
      assert.deepEqual(r.warnings, ['temperature out of sensor range: -45.6', 'co2 out of sensor range: 300']);
    });

    it('decodes history records and alarms on their own ports', () => {
      assert.deepEqual(codec.decodeUplink({ bytes: hex('80 2F D4 67 F6 FF 64'), fPort: 6 }).data, {
        history: { time: '2025-03-14T13:30:40.000Z', temperature: -1, humidity: 50 },
      });
      assert.deepEqual(codec.decodeUplink({ bytes: hex('04 D0 07'), fPort: 7 }).data, { alarm: { type: 'co2_high', value: 200 } });
      const unknown = codec.decodeUplink({ bytes: hex('09 00 00'), fPort: 7 });
      assert.deepEqual(unknown.warnings, ['unknown alarm type 9']);
    });

    it('fails (errors, no data) on an unknown channel, an unknown port or a truncated record', () => {
      const channel = codec.decodeUplink({ bytes: hex('0A 01 00'), fPort: 5 });
      assert.deepEqual(channel.errors, ['unknown channel 0x0a type 0x01']);
      assert.equal(channel.data, undefined);
      assert.equal(channel.error?.kind, 'script');
      assert.deepEqual(codec.decodeUplink({ bytes: [], fPort: 99 }).errors, ['unsupported fPort 99']);
      const truncated = codec.decodeUplink({ bytes: hex('03 67 10'), fPort: 5 });
      assert.equal(truncated.error?.kind, 'runtime');
      assert.match(truncated.errors[0], /^Error: truncated temperature at byte 2 \(line 68, column 11\)$/);
    });

    it('encodes and decodes configuration downlinks', () => {
      const enc = codec.encodeDownlink({ data: { interval_minutes: 15, led: 'off', temperature_high: -5.5, reboot: true } });
      assert.deepEqual(enc.bytes, hex('FF 03 84 03 FF 2F 00 FF 06 C9 FF FF 10 FF'));
      assert.equal(enc.fPort, 85);
      assert.deepEqual(codec.decodeDownlink({ bytes: enc.bytes ?? [], fPort: 85 }).data, { interval_minutes: 15, led: 'off', temperature_high: -5.5, reboot: true });
      const bad = codec.encodeDownlink({ data: { led: 'blink', interval_minutes: 0 } });
      assert.deepEqual(bad.errors, ['interval_minutes must be 1..1092', 'led must be "on" or "off"']);
      assert.equal(bad.bytes, undefined);
    });
  });

  describe('device-repository style (ES2020, class private fields, exports.*) — fixtures/gps-tracker.js', () => {
    const codec = createCodec(fixture('gps-tracker.js'));

    it('decodes with destructured input, recvTime as a Date, and undefined turned into null', () => {
      const r = codec.decodeUplink({ bytes: hex('32 1F 36 A9 60 02 EC 4E 68 00 2A 00 0E 74'), fPort: 10, recvTime: new Date('2025-03-14T09:26:53.338Z') });
      assert.deepEqual(r, {
        data: {
          event: 'sos',
          fix: '3d',
          location: { latitude: 52.3676, longitude: 4.9041, altitude: 42 },
          battery: { voltage: 3.7, level: 'good' },
          received: '2025-03-14T09:26:53.338Z',
          speed: null,
        },
        warnings: [],
        errors: [],
        logs: [],
      });
    });

    it('reports a short frame with the script line of the throw', () => {
      const r = codec.decodeUplink({ bytes: hex('12 00 00'), fPort: 10 });
      assert.equal(r.error?.kind, 'runtime');
      assert.match(r.errors[0], /^RangeError: frame too short: need 11 bytes, got 3 \(line 18, column \d+\)$/);
      assert.equal(r.error?.line, 18);
    });

    it('returns warnings and errors the script reports', () => {
      assert.deepEqual(codec.decodeUplink({ bytes: hex('00'), fPort: 10 }).data, { event: 'periodic', fix: 'none', received: null, speed: null });
      assert.deepEqual(codec.decodeUplink({ bytes: hex('00'), fPort: 10 }).warnings, ['no GPS fix']);
      assert.deepEqual(codec.decodeUplink({ bytes: hex('00'), fPort: 11 }).errors, ['unexpected fPort 11']);
    });

    it('encodes downlinks with a default port and reports script errors', () => {
      assert.deepEqual(codec.encodeDownlink({ data: { mode: 'sleep', interval_s: 600 }, fPort: 0 }), { bytes: [2, 2, 88], fPort: 20, warnings: [], errors: [], logs: [] });
      assert.deepEqual(codec.encodeDownlink({ data: { mode: 'dance' } }).errors, ['unknown mode dance']);
    });
  });

  describe('TTN v2 form — fixtures/door-sensor-v2.js', () => {
    const codec = createCodec(fixture('door-sensor-v2.js'));

    it('is detected and calls Decoder(bytes, port), including sloppy-mode implicit globals', () => {
      assert.equal(codec.form, 'ttn-v2');
      assert.deepEqual(codec.decodeUplink({ bytes: hex('05 01 2C 0C E4 F6'), fPort: 1 }).data, {
        open: true,
        tamper: false,
        leak: true,
        open_count: 300,
        battery_v: 3.3,
        temperature: -10,
      });
      assert.deepEqual(codec.decodeUplink({ bytes: hex('01 00 10'), fPort: 2 }).data, { open_seconds: 65552 });
    });

    it('calls Encoder(object, port) and keeps the port', () => {
      assert.deepEqual(codec.encodeDownlink({ data: { alarm: true, interval: 300 }, fPort: 7 }), { bytes: [1, 1, 44], fPort: 7, warnings: [], errors: [], logs: [] });
    });

    it('has no decodeDownlink (TTS has no legacy fallback for it)', () => {
      const r = codec.decodeDownlink({ bytes: [1], fPort: 7 });
      assert.equal(r.error?.kind, 'form');
      assert.match(r.errors[0], /no decodeDownlink/);
    });
  });

  describe('form detection', () => {
    it('prefers the TTS API when a script defines several forms', () => {
      const codec = createCodec('function Decoder(b) { return { v2: true }; }\nfunction decodeUplink(i) { return { data: { tts: true } }; }');
      assert.equal(codec.form, 'tts');
      assert.deepEqual(codec.decodeUplink({ bytes: [] }).data, { tts: true });
    });

    it('accepts module.exports = { decodeUplink } and function expressions', () => {
      const codec = createCodec('module.exports = { decodeUplink: (input) => ({ data: { n: input.bytes.length } }) };');
      assert.equal(codec.form, 'tts');
      assert.deepEqual(codec.decodeUplink({ bytes: [1, 2] }).data, { n: 2 });
      const expr = createCodec('var Decoder = function (bytes, port) { return { port: port }; };');
      assert.deepEqual(expr.decodeUplink({ bytes: [], fPort: 4 }).data, { port: 4 });
    });

    it('reports a script that defines no codec function', () => {
      assert.throws(
        () => createCodec('var x = 1;\nfunction helper() {}'),
        (e: unknown) => e instanceof Error && e.name === 'CodecLoadError' && /defines no codec function/.test(e.message),
      );
      const onlyDown = createCodec('function encodeDownlink(i) { return { bytes: [1] }; }');
      const r = onlyDown.decodeUplink({ bytes: [] });
      assert.equal(r.error?.kind, 'form');
      assert.match(r.errors[0], /no uplink decoder/);
    });
  });

  describe('sandbox globals', () => {
    it('provides Buffer (node-compatible subset), TextEncoder/Decoder, Math, Date, JSON and typed arrays', () => {
      const codec = createCodec(`function decodeUplink(input) {
        const b = Buffer.from(input.bytes);
        const f = Buffer.alloc(8); f.writeFloatBE(1.5, 0); f.writeInt16LE(-2, 4); f.writeUInt16BE(513, 6);
        return { data: {
          hex: b.toString('hex'), b64: b.toString('base64'), b64url: b.toString('base64url'), utf8: b.subarray(4).toString(),
          u32be: b.readUInt32BE(0), i32le: b.readInt32LE(0), u16: b.readUint16LE(0), i8: b.readInt8(0), uint24: b.readUIntBE(0, 3), int24: b.readIntLE(0, 3),
          float: f.readFloatBE(0), i16: f.readInt16LE(4), written: f.toString('hex'), big: String(Buffer.from([1,0,0,0,0,0,0,0]).readBigUInt64LE(0)),
          fromHex: [...Buffer.from('cafe', 'hex')], fromB64: [...Buffer.from('AQoU', 'base64')], concat: Buffer.concat([Buffer.from([1]), Buffer.from([2, 3])]).toString('hex'),
          isBuffer: Buffer.isBuffer(b), text: new TextDecoder().decode(new TextEncoder().encode('héllo €')),
          view: new DataView(new Uint8Array([0, 0, 0x80, 0x3f]).buffer).getFloat32(0, true), max: Math.max(...input.bytes), date: new Date(0).toISOString(), json: JSON.parse('{"a":1}').a,
          json2: JSON.stringify(b),
        } };
      }`);
      const r = codec.decodeUplink({ bytes: [0xf0, 0x9f, 0x98, 0x80, 0x68, 0x69] });
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.data, {
        hex: 'f09f98806869', b64: '8J+YgGhp', b64url: '8J-YgGhp', utf8: 'hi',
        u32be: 0xf09f9880, i32le: 0x80989ff0 | 0, u16: 0x9ff0, i8: -16, uint24: 0xf09f98, int24: 0x989ff0 - 0x1000000,
        float: 1.5, i16: -2, written: '3fc00000feff0201', big: '1',
        fromHex: [0xca, 0xfe], fromB64: [1, 10, 20], concat: '010203', isBuffer: true, text: 'héllo €',
        view: 1, max: 0xf0, date: '1970-01-01T00:00:00.000Z', json: 1,
        json2: '{"type":"Buffer","data":[240,159,152,128,104,105]}',
      });
      const oob = createCodec('function decodeUplink(i) { return { data: { v: Buffer.from(i.bytes).readUInt16LE(1) } }; }').decodeUplink({ bytes: [1, 2] });
      assert.match(oob.errors[0], /^RangeError: The value of "offset" is out of range/);
    });

    it('captures console output per call', () => {
      const codec = createCodec('function decodeUplink(input) {\n  console.log("port", input.fPort, { a: 1 });\n  console.warn("careful");\n  return { data: {} };\n}');
      assert.deepEqual(codec.decodeUplink({ bytes: [], fPort: 3 }).logs, ['port 3 {"a":1}', 'warn: careful']);
      assert.deepEqual(createCodec('function decodeUplink() { return { data: {} }; }').decodeUplink({ bytes: [] }).logs, []);
    });
  });

  it('decodes base64 and TTS-style byte arrays identically', () => {
    const codec = createCodec(fixture('design-examples.js'));
    assert.deepEqual(codec.decodeUplink({ bytes: b64('NAgQFw=='), fPort: 1 }).data, codec.decodeUplink({ bytes: new Uint8Array([0x34, 0x08, 0x10, 0x17]), fPort: 1 }).data);
  });
});
