import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createCodec, type Codec, type DecodeResult } from '../../src/codec';
import { hex } from '../helpers/codec-fixtures';

// Vendor-style codecs written for these tests, each reproducing a pattern seen in the codecs of
// TTS's device repository, with the outputs TTS gives for them: helpers reached through `this`
// or globalThis from plain calls, a 20 kB family codec, module.exports, TTN v2 Decoder/Encoder,
// strict mode, classes, Date and typed arrays in the output, methods and symbols in the output
// (null), holes, getters, NaN (a failed decode). Buffer is this engine's addition (TTS has none):
// codecs using it are here for the hosted plugin's form.

const dir = path.join(__dirname, 'corpus');
const RECEIVED = new Date('2025-03-14T09:26:53.000Z');
const codecs = new Map<string, Codec>();
function codec(file: string): Codec {
  let c = codecs.get(file);
  if (!c) codecs.set(file, (c = createCodec(fs.readFileSync(path.join(dir, file), 'utf8'), { filename: file })));
  return c;
}
const up = (file: string, fPort: number, bytes: string): DecodeResult => codec(file).decodeUplink({ bytes: hex(bytes), fPort, recvTime: RECEIVED });

interface Example {
  fPort: number;
  bytes: string;
  data?: Record<string, unknown>;
  warnings?: string[];
  /** The decode fails with these errors (or errors matching this). */
  errors?: string[] | RegExp;
}

const UPLINKS: Record<string, Example[]> = {
  'big-multisensor.js': [
    {
      fPort: 1,
      bytes: '01234506 2a14 00e1 0190 00c8 03e8 0041 8011',
      data: {
        serial: 74565,
        product: 'MS-8 TH-VOC-CO2',
        sequence: 42,
        firmware: '1.4',
        values: {
          temperature: { unit: '°C', value: 22.5 },
          humidity: { unit: '%', value: 40 },
          voc: { unit: 'ppb', value: 200 },
          co2: { unit: 'ppm', value: 1000 },
        },
        alarm_status: {
          temperature: { high: true, low: false },
          humidity: { high: false, low: false },
          voc: { high: false, low: false },
          co2: { high: true, low: false },
        },
        state: { battery: 'good', message_type: 'alarm', fault: true },
      },
      warnings: ['device reports a sensor fault'],
    },
    {
      fPort: 1,
      bytes: '00000a08 0112 00000064 000000c8 0000012c 0601 0004',
      data: {
        serial: 10,
        product: 'MS-8 P3',
        sequence: 1,
        firmware: '1.2',
        values: { pulse_ch1: { unit: '', value: 100 }, pulse_ch2: { unit: '', value: 200 }, pulse_oc: { unit: '', value: 300 } },
        alarm_status: {
          pulse_ch1_flow: { high: true, low: false },
          pulse_ch2_flow: { high: false, low: false },
          pulse_oc_flow: { high: false, low: false },
          pulse_ch1_leak: { leak: false },
          pulse_ch2_leak: { leak: true },
          pulse_oc_leak: { leak: true },
        },
        state: { battery: 'critical', message_type: 'periodic', fault: false },
      },
      warnings: ['battery critical'],
    },
    {
      fPort: 3,
      bytes: '01 0e10 10 ff38 41 00015180 43 01 06 20',
      data: { registers: { report_interval: 3600, temperature_high: -20, uptime: 86400, last_reset_cause: 'watchdog', tx_power: 32 } },
      warnings: ['tx_power out of range: 32'],
    },
    {
      fPort: 4,
      bytes: '5f5e1000 01 0003 5f5e1e10 04 0000',
      data: {
        events: [
          { time: '2020-09-13T12:26:40.000Z', event: 'button_pressed', argument: 3 },
          { time: '2020-09-13T13:26:40.000Z', event: 'probe_disconnected', argument: 0 },
        ],
      },
    },
    { fPort: 1, bytes: '000001 ff 01 10', errors: ['unknown product type 255'] },
    { fPort: 1, bytes: '000001 04 01 10 00e1', errors: /^Error: frame too short \(line \d+, column \d+\)$/ },
    { fPort: 7, bytes: '', errors: ['unknown fPort 7'] },
  ],
  'this-helper-entry.js': [
    { fPort: 1, bytes: '0800 0929 24', data: { moisture: 50, temperature: 23.45, battery: 3.6 } },
    { fPort: 1, bytes: '01', errors: ['need 5 bytes, got 1'] },
  ],
  'globalthis-table.js': [
    { fPort: 1, bytes: '01 04d2 fb', data: { level_mm: 1234, tilt: -5 } },
    { fPort: 1, bytes: '02 01', data: { alarm: 'overflow' } },
    { fPort: 1, bytes: '09', errors: ['unknown message type 9'] },
  ],
  'helper-object-methods.js': [
    { fPort: 1, bytes: 'fe 08fc 04d2', data: { voltage: 230, current: 1.234, status: { code: -2, ok: false, readInt8: null }, parse: null, kind: null } },
  ],
  'buffer-readers.js': [
    {
      fPort: 1,
      bytes: 'ff38 91 e8880100 41200000 b400',
      data: { temperature: -20, humidity: 72.5, pressure: 1005.84, wind_speed: 10, wind_direction: 180, raw: 'ff3891e888010041200000b400', raw_base64: '/ziR6IgBAEEgAAC0AA==' },
    },
  ],
  'buffer-in-output.js': [{ fPort: 1, bytes: '11 0102 0304', data: { slave: 17, registers: [1, 2, 3, 4], copy: [1, 2, 3, 4], words: [258], buffer: [1, 2] } }],
  'date-output.js': [
    {
      fPort: 1,
      bytes: '5f5e1000 0064 5f5e1e10 00c8',
      data: {
        records: [
          { time: '2020-09-13T12:26:40.000Z', value: 100 },
          { time: '2020-09-13T13:26:40.000Z', value: 200 },
        ],
        received: '2025-03-14T09:26:53.000Z',
        age_s: 141940813,
        never: null,
      },
    },
  ],
  'module-exports-tts.js': [
    { fPort: 2, bytes: '01 07 5a', data: { state: 'occupied', count: 7, battery_pct: 90 } },
    { fPort: 3, bytes: '00', errors: ['unexpected fPort 3'] },
  ],
  'plugin-form.js': [{ fPort: 1, bytes: '01 ff9c', data: { occupied: true, magnetometer: -100, source: 'script' } }],
  'ttn-v2.js': [
    { fPort: 1, bytes: '03 0102', data: { open: true, tamper: true, count: 258 } },
    { fPort: 2, bytes: 'a5', data: { battery: 3.3 } },
  ],
  'strict-mode.js': [{ fPort: 1, bytes: '01 0123', data: { lux: 2910, this_type: 'undefined', scale_on_global: 'undefined', decoder_on_global: 'function' } }],
  'classes.js': [{ fPort: 1, bytes: '02 00fa 012c 09', data: { version: 2, pm: { pm2_5: 25, pm10: 30 }, index: 'good', left: 1, reader_on_global: 'undefined' } }],
  'module-pattern.js': [
    { fPort: 1, bytes: '03 0313d4e4 004aeb7a', data: { event: 'sos', latitude: 51.631332, longitude: 4.909946 } },
    { fPort: 1, bytes: '00', data: { event: 'heartbeat' } },
  ],
  'channel-records.js': [
    { fPort: 1, bytes: '017564 0367 1001 046871 056a 4900 0665 1c00 7900', data: { battery: 100, temperature: 27.2, humidity: 56.5, activity: 73, illumination: 28, infrared: 121 } },
    { fPort: 1, bytes: '0999 00', errors: ['unknown channel 9 type 153'] },
  ],
  'hex-string.js': [{ fPort: 1, bytes: '1a2b3c4d 0001e240 05', data: { meter_id: '1A2B3C4D', volume_m3: 123.456, leak: true, burst: false, reverse_flow: true } }],
  'text-payload.js': [
    { fPort: 1, bytes: Buffer.from('52.3676,4.9041,9').toString('hex'), data: { latitude: 52.3676, longitude: 4.9041, satellites: 9, text: '52.3676,4.9041,9' } },
    { fPort: 1, bytes: Buffer.from('oops').toString('hex'), errors: ['expected "lat,lon,sats", got "oops"'] },
  ],
  'ieee-float.js': [{ fPort: 1, bytes: '41c80000 42f6e979', data: { flow_lpm: 25, total_m3: 123.456, view: {} } }],
  'warnings-errors.js': [
    { fPort: 1, bytes: '1770 6e 01', data: { co_ppm: 6000, lel_pct: 100, alarm: true }, warnings: ['CO above sensor range', 'LEL reading 110% is impossible'] },
    { fPort: 1, bytes: '00', errors: ['frame must be 4 bytes', 'got 1'] },
  ],
  'sparse-array.js': [{ fPort: 1, bytes: '00 00eb 03 ff9c', data: { probes: [23.5, null, null, -10], count: 4 } }],
  'nan-value.js': [
    { fPort: 1, bytes: '0102 0304', data: { distance_mm: 258, ratio: 0.75 } },
    { fPort: 1, bytes: '0102 03', errors: /^data\.ratio is NaN/ },
  ],
  'getters-and-prototypes.js': [
    { fPort: 1, bytes: '0960 00e6 01', data: { reading: { watts: 2400, volts: 230, describe: null, amps: 10.435 }, tagged: { relay: true }, doubled: 4800, unit: 'W' } },
  ],
  'var-on-global.js': [
    { fPort: 1, bytes: '0005', data: { total: 105, via_this: 105, unit: 'pulses' } },
    { fPort: 1, bytes: '0007', data: { total: 107, via_this: 107, unit: 'pulses' } },
  ],
  'polyfills.js': [{ fPort: 1, bytes: '0190 03e8 05', data: { axis: 'z', unit: 'mm/s', rms: 4, peak: 10, status_bits: '00000101', alarm: true } }],
  'bigint-reader.js': [
    { fPort: 1, bytes: '00000000 075bcd15', data: { energy_wh: '123456789', kwh: 123456 } },
    { fPort: 9, bytes: '00000000 075bcd15', errors: /^data\.raw is a bigint/ },
  ],
  'recvtime-window.js': [
    { fPort: 1, bytes: '000c 0f', data: { rain_mm: 2.4000000000000004, window_start: '2025-03-14T09:11:53.000Z', window_end: '2025-03-14T09:26:53.000Z', is_date: true } },
  ],
  'decoder-object-this.js': [{ fPort: 1, bytes: '0961 2797 a0', data: { temperature: 24.01, pressure: 1013.5, battery: 3.2 } }],
  'downlink-config.js': [{ fPort: 1, bytes: '01 32', data: { mode: 'open', open_pct: 50 } }],
};

function check(file: string, example: Example, result: DecodeResult): void {
  const what = `${file} fPort ${example.fPort} ${example.bytes}`;
  if (example.errors) {
    assert.equal(result.data, undefined, what);
    if (example.errors instanceof RegExp) assert.match(result.errors.join('; '), example.errors, what);
    else assert.deepEqual(result.errors, example.errors, what);
    return;
  }
  assert.deepEqual(result.errors, [], what);
  assert.deepEqual(result.data, example.data, what);
  assert.deepEqual(result.warnings, example.warnings ?? [], what);
}

describe('codec corpus: vendor-style codecs give the outputs TTS gives', () => {
  it('has a few dozen codecs, one of them about 20 kB', () => {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.js'));
    assert.ok(files.length >= 25, `${files.length} codecs`);
    assert.deepEqual(files.filter((f) => !(f in UPLINKS)), []);
    assert.ok(fs.statSync(path.join(dir, 'big-multisensor.js')).size >= 19_000);
  });

  for (const [file, examples] of Object.entries(UPLINKS)) {
    it(`${file}: uplink examples, one by one and as one batch`, () => {
      for (const example of examples) check(file, example, up(file, example.fPort, example.bytes));
      // Fresh script state per message: the same answers in a batch, in reverse order, twice.
      const again = [...examples, ...examples].reverse();
      const batch = codec(file).decodeUplinkBatch(again.map((e) => ({ bytes: hex(e.bytes), fPort: e.fPort, recvTime: RECEIVED })));
      again.forEach((example, i) => check(file, example, batch[i]));
    });
  }

  it('downlink encoders and decoders', () => {
    const big = codec('big-multisensor.js');
    const config = big.encodeDownlink({ data: { report_interval: 900, temperature_high: -5.5, adr: true } });
    assert.deepEqual([config.bytes, config.fPort, config.errors], [[0x81, 0x03, 0x84, 0x90, 0xff, 0xc9, 0x84, 0x01], 10, []]);
    assert.deepEqual(big.decodeDownlink({ bytes: config.bytes!, fPort: 10 }).data, { report_interval: 900, temperature_high: -5.5, adr: 1 });
    assert.deepEqual(big.encodeDownlink({ data: { command: 'send_now', delay_s: 300 } }).bytes, [2, 1, 44]);
    assert.deepEqual(big.encodeDownlink({ data: { uptime: 5, report_interval: 10 } }).errors, ['uptime is read-only', 'report_interval must be 60..86400']);

    const valve = codec('downlink-config.js');
    const open = valve.encodeDownlink({ data: { mode: 'open', interval_s: 120 }, fPort: 1 });
    assert.deepEqual([open.bytes, open.fPort, open.warnings], [[1, 0, 120], 20, ['short intervals drain the battery']]);
    assert.deepEqual(valve.encodeDownlink({ data: { command: 'flush', seconds: 30 } }).bytes, [0xf0, 30]);
    assert.deepEqual(valve.encodeDownlink({ data: { mode: 'x' } }).errors, ['mode must be auto, open or closed']);
    assert.deepEqual(valve.decodeDownlink({ bytes: [1, 0, 120], fPort: 20 }).data, { mode: 'open', interval_s: 120 });

    const occupancy = codec('module-exports-tts.js');
    assert.deepEqual([occupancy.encodeDownlink({ data: { report_minutes: 15 } }).bytes, occupancy.encodeDownlink({ data: { report_minutes: 15 } }).fPort], [[0x10, 15], 3]);
    assert.deepEqual(occupancy.encodeDownlink({ data: { report_minutes: 0 } }).errors, ['report_minutes must be 1..255']);
    assert.deepEqual(codec('plugin-form.js').encodeDownlink({ data: { calibrate: true, sensitivity: 7 } }).bytes, [1, 7]);
    assert.deepEqual(codec('plugin-form.js').decodeUplink({ bytes: [], decodedPayload: { occupied: 1 } }).data, { occupied: true, source: 'tts' });
    const v2 = codec('ttn-v2.js').encodeDownlink({ data: { led: true, hold_s: 30 }, fPort: 5 });
    assert.deepEqual([v2.bytes, v2.fPort], [[1, 30], 5]);
  });
});
