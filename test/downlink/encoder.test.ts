import { strict as assert } from 'node:assert';
import { DownlinkEncodeError, DownlinkEncoder, DownlinkInputError, encodeLpp, previewEncode, rawPayload, stringBytes } from '../../src/downlink';

const CONFIG = { enabled: true, frequency: 10, threshold: 20 };

const PLUGIN_BASE64 = `
module.exports.downlink = function (payload, device) {
  const bytes = [payload.enabled ? 1 : 0, payload.frequency, payload.threshold];
  return Buffer.from(bytes).toString('base64');
};`;

const PLUGIN_OBJECT = `
module.exports.downlink = function (payload, device) {
  if (payload.formatter) return { f_port: 7, decoded_payload: { valve: payload.valve, owner: device.deviceId } };
  return { f_port: 9, frm_payload: Buffer.from([payload.valve === 'open' ? 1 : 0]).toString('base64') };
};`;

const TTS_ENCODE = `
function encodeDownlink(input) {
  if (input.data.bad) return { errors: ['threshold out of range'] };
  return { bytes: [input.data.threshold, input.fPort], fPort: 15, warnings: ['clamped'] };
}`;

const V2_ENCODER = `
function Encoder(object, port) {
  return [object.led ? 1 : 0, port];
}`;

function bytesOf(encoder: DownlinkEncoder, data: unknown, fPort = 1, device?: unknown): { hex: string; fPort?: number } {
  const { payload } = encoder.encode({ data, fPort, device });
  assert.equal(payload.kind, 'bytes');
  if (payload.kind !== 'bytes') throw new Error('unreachable');
  return { hex: Buffer.from(payload.bytes).toString('hex'), fPort: payload.fPort };
}

describe('downlink encoder', () => {
  describe('script forms', () => {
    it('runs the plugin downlink returning base64 (the DESIGN example gives AQoU)', () => {
      const encoder = new DownlinkEncoder({ codec: 'script', script: PLUGIN_BASE64 });
      const { hex, fPort } = bytesOf(encoder, CONFIG);
      assert.equal(Buffer.from(hex, 'hex').toString('base64'), 'AQoU');
      assert.equal(fPort, undefined);
    });

    it('runs the plugin downlink returning an object with frm_payload or decoded_payload, and hands it the device', () => {
      const encoder = new DownlinkEncoder({ codec: 'script', script: PLUGIN_OBJECT });
      assert.deepEqual(bytesOf(encoder, { valve: 'open' }), { hex: '01', fPort: 9 });
      const { payload } = encoder.encode({ data: { formatter: true, valve: 'shut' }, fPort: 1, device: { deviceId: 'valve-12' } });
      assert.deepEqual(payload, { kind: 'decoded', decoded: { valve: 'shut', owner: 'valve-12' }, fPort: 7 });
    });

    it('runs TTS encodeDownlink with the port going in, keeps its fPort and warnings, and fails on reported errors', () => {
      const encoder = new DownlinkEncoder({ codec: 'script', script: TTS_ENCODE });
      const out = encoder.encode({ data: { threshold: 30 }, fPort: 4 });
      assert.deepEqual(out.payload, { kind: 'bytes', bytes: Uint8Array.from([30, 4]), fPort: 15 });
      assert.deepEqual(out.warnings, ['clamped']);
      assert.throws(() => encoder.encode({ data: { bad: true }, fPort: 4 }), (err: Error) => err instanceof DownlinkEncodeError && /threshold out of range/.test(err.message));
    });

    it('runs a TTN v2 Encoder with the port', () => {
      const encoder = new DownlinkEncoder({ codec: 'script', script: V2_ENCODER });
      assert.deepEqual(bytesOf(encoder, { led: true }, 3), { hex: '0103', fPort: 3 });
    });

    it('reports compile errors with their line, scripts without an encoder, and empty scripts at construction', () => {
      assert.throws(
        () => new DownlinkEncoder({ codec: 'script', script: 'function encodeDownlink(input) {\n  return {\n' }),
        (err: Error) => err instanceof DownlinkEncodeError && typeof (err).line === 'number',
      );
      assert.throws(() => new DownlinkEncoder({ codec: 'script', script: 'function decodeUplink(i) { return { data: {} }; }' }), /no downlink encoder/);
      assert.throws(() => new DownlinkEncoder({ codec: 'script', script: '  ' }), /empty/);
      assert.throws(() => new DownlinkEncoder({ codec: 'nope' as never }), /unknown codec/);
    });

    it('turns a throw, a timeout and bytes out of range into clear errors', () => {
      const throwing = new DownlinkEncoder({ codec: 'script', script: 'function encodeDownlink(i) {\n  throw new Error("no config");\n}' });
      assert.throws(() => throwing.encode({ data: {}, fPort: 1 }), (err: Error) => /no config/.test(err.message) && (err as DownlinkEncodeError).line === 2);
      const endless = new DownlinkEncoder({ codec: 'script', script: 'function Encoder(o) { for (;;) {} }', timeout: 20 });
      assert.throws(() => endless.encode({ data: {}, fPort: 1 }), /did not finish within 20 ms/);
      const wide = new DownlinkEncoder({ codec: 'script', script: 'function Encoder(o) { return [1, 300]; }' });
      assert.throws(() => wide.encode({ data: {}, fPort: 1 }), /0\.\.255/);
    });

    it('refuses to encode nothing', () => {
      const encoder = new DownlinkEncoder({ codec: 'script', script: V2_ENCODER });
      assert.throws(() => encoder.encode({ data: undefined, fPort: 1 }), DownlinkInputError);
    });
  });

  describe('Cayenne LPP', () => {
    it('encodes value_<channel> as TTS does and typed keys as an LPP frame', () => {
      const encoder = new DownlinkEncoder({ codec: 'cayennelpp' });
      assert.equal(bytesOf(encoder, { value_2: -50.51 }).hex, '02ec45');
      assert.equal(bytesOf(encoder, { digital_out_3: 1, analog_out_4: 1.5 }).hex, '030101' + '040300' + '96');
      assert.throws(() => encodeLpp({ colour_1: 3 }), /Cayenne LPP/);
      assert.throws(() => encodeLpp({}), /no values/);
      assert.throws(() => encodeLpp('AQ=='), /needs an object/);
    });
  });

  describe('raw', () => {
    it('passes base64, hex, byte arrays and Buffers through', () => {
      const hex = (p: unknown, f: 'auto' | 'base64' | 'hex' = 'auto') => {
        const out = rawPayload(p, f);
        return out.kind === 'bytes' ? Buffer.from(out.bytes).toString('hex') : out;
      };
      assert.equal(hex('AQoU'), '010a14');
      assert.equal(hex('01 0A 14'), '010a14');
      assert.equal(hex('0x010a14'), '010a14');
      assert.equal(hex('ABCD'), 'abcd');
      assert.equal(hex('ABCD', 'base64'), '001083');
      assert.equal(hex([1, 10, 20]), '010a14');
      assert.equal(hex(Buffer.from([1, 2])), '0102');
      assert.equal(hex(JSON.parse(JSON.stringify(Buffer.from([3, 4])))), '0304');
      assert.equal(hex({ frm_payload: 'AQoU', f_port: 5 }), '010a14');
      assert.throws(() => stringBytes('xyz!', 'auto'), /neither hex nor base64/);
      assert.throws(() => stringBytes('AQoU', 'hex'), /not hex/);
      assert.throws(() => rawPayload([1, 256], 'auto'), /0\.\.255/);
      assert.throws(() => rawPayload(42, 'auto'), /not number/);
    });

    it('leaves objects as decoded_payload for the TTS-side formatter', () => {
      assert.deepEqual(rawPayload({ valve: 'open' }, 'auto'), { kind: 'decoded', decoded: { valve: 'open' } });
      assert.deepEqual(rawPayload({ decoded_payload: { value_1: 2 }, f_port: 3 }, 'auto'), { kind: 'decoded', decoded: { value_1: 2 }, fPort: 3 });
      assert.throws(() => rawPayload({ decoded_payload: [1] }, 'auto'), /must be an object/);
    });
  });

  describe('preview for the edit dialog', () => {
    it('shows bytes in three notations, the port and guard-rail problems', () => {
      const ok = previewEncode({ codec: 'script', script: PLUGIN_BASE64, payload: JSON.stringify(CONFIG), fPort: '2' });
      assert.ok(ok.ok);
      if (!ok.ok) return;
      assert.equal(ok.frm_payload, 'AQoU');
      assert.equal(ok.hex, '010A14');
      assert.deepEqual(ok.bytes, [1, 10, 20]);
      assert.equal(ok.fPort, 2);
      assert.equal(ok.problem, undefined);
      const big = previewEncode({ codec: 'raw', payload: JSON.stringify(new Array(243).fill(0)) });
      assert.ok(big.ok && /242-byte/.test(big.problem ?? ''));
      const bare = previewEncode({ codec: 'raw', payload: 'AQoU' });
      assert.ok(bare.ok && bare.hex === '010A14');
    });

    it('answers script errors with their line and bad requests clearly', () => {
      const broken = previewEncode({ codec: 'script', script: 'function Encoder(o) {\n  return [o.x.y];\n}', payload: '{}' });
      assert.equal(broken.ok, false);
      if (broken.ok || broken.badRequest) return;
      assert.match(broken.error, /TypeError/);
      assert.equal(broken.line, 2);
      assert.deepEqual(previewEncode({ codec: 'nope' }), { ok: false, badRequest: true, error: 'codec must be one of script, cayennelpp, raw' });
      assert.match((previewEncode({ codec: 'script', script: V2_ENCODER, payload: '{oops' }) as { error: string }).error, /not valid JSON/);
      assert.match((previewEncode({ codec: 'script', script: V2_ENCODER, payload: '{}', fPort: '300' }) as { error: string }).error, /1 to 223/);
    });
  });
});
