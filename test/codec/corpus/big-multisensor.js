/*
 * Northwind MS-8 multi-sensor family — payload codec for The Things Stack (LoRaWAN codec API).
 *
 * Written in the style of the large vendor codecs of the device repository: one script covers a
 * whole product family, frames are parsed from a hex string, helpers are reached through `this`
 * from functions that are called as plain functions, a register table describes every
 * configurable parameter, and a long switch decodes each product's report.
 *
 * Uplink frame (every product):
 *   byte 0..2  device serial (u24 BE)
 *   byte 3     product type (see PRODUCTS)
 *   byte 4     sequence counter
 *   byte 5     firmware version (high nibble major, low nibble minor)
 *   byte 6..   product-specific report (see decodeReport), then alarm word (u16 BE) and a
 *              status word (u16 BE: bits 0..1 message type, bits 2..4 battery level, bit 15 fault)
 *
 * fPort 1: periodic report   fPort 2: alarm report (same layout, alarm word set)
 * fPort 3: register read-back: repeated [register id][value], value width from REGISTERS
 * fPort 4: event log: u32 BE unix time, u8 event code, u16 BE argument; repeated
 *
 * Downlink fPort 10: register writes: repeated [0x80 | register id][value]
 * Downlink fPort 11: commands: 0x01 reboot, 0x02 [u16 BE seconds] send-now delay, 0x03 clear log
 */

var PRODUCT_TH_AMBIENT = 0x04; /* temperature & humidity, ambient */
var PRODUCT_TH_VOC = 0x05; /* temperature, humidity and VOC */
var PRODUCT_TH_VOC_CO2 = 0x06; /* temperature, humidity, VOC and CO2 */
var PRODUCT_TEMP_INTERNAL = 0x07; /* one internal temperature sensor */
var PRODUCT_PULSE = 0x08; /* three pulse counters */
var PRODUCT_PULSE_ATEX = 0x09; /* three pulse counters, intrinsically safe */
var PRODUCT_PULSE_LED = 0x0a; /* optical pulse reader */
var PRODUCT_CONTACT = 0x0b; /* dry contact counters */
var PRODUCT_PT1000_2CH = 0x0c; /* two PT1000 probes */
var PRODUCT_ANALOG_4_20 = 0x0d; /* 4-20 mA loop */
var PRODUCT_TH_PROBE = 0x0e; /* temperature & humidity, external probe */
var PRODUCT_PT1000_1CH = 0x0f; /* one PT1000 probe */

var PRODUCTS = {};
PRODUCTS[PRODUCT_TH_AMBIENT] = { name: 'MS-8 TH', alarms: 'th' };
PRODUCTS[PRODUCT_TH_VOC] = { name: 'MS-8 TH-VOC', alarms: 'thv' };
PRODUCTS[PRODUCT_TH_VOC_CO2] = { name: 'MS-8 TH-VOC-CO2', alarms: 'thvc' };
PRODUCTS[PRODUCT_TEMP_INTERNAL] = { name: 'MS-8 T', alarms: 't1' };
PRODUCTS[PRODUCT_PULSE] = { name: 'MS-8 P3', alarms: 'pulse' };
PRODUCTS[PRODUCT_PULSE_ATEX] = { name: 'MS-8 P3-EX', alarms: 'pulse' };
PRODUCTS[PRODUCT_PULSE_LED] = { name: 'MS-8 PL', alarms: 'pulse' };
PRODUCTS[PRODUCT_CONTACT] = { name: 'MS-8 DC', alarms: 'pulse' };
PRODUCTS[PRODUCT_PT1000_2CH] = { name: 'MS-8 PT2', alarms: 't2' };
PRODUCTS[PRODUCT_ANALOG_4_20] = { name: 'MS-8 AI', alarms: 'analog' };
PRODUCTS[PRODUCT_TH_PROBE] = { name: 'MS-8 THP', alarms: 'th' };
PRODUCTS[PRODUCT_PT1000_1CH] = { name: 'MS-8 PT1', alarms: 't1' };

/* Alarm word layouts: bit number -> alarm name and the limit it reports. */
var ALARM_LAYOUTS = {
  th: [
    { bit: 1, name: 'temperature', limit: 'high' },
    { bit: 2, name: 'temperature', limit: 'low' },
    { bit: 3, name: 'humidity', limit: 'high' },
    { bit: 4, name: 'humidity', limit: 'low' },
  ],
  thv: [
    { bit: 1, name: 'temperature', limit: 'high' },
    { bit: 2, name: 'temperature', limit: 'low' },
    { bit: 3, name: 'humidity', limit: 'high' },
    { bit: 4, name: 'humidity', limit: 'low' },
    { bit: 5, name: 'voc', limit: 'high' },
    { bit: 6, name: 'voc', limit: 'low' },
  ],
  thvc: [
    { bit: 1, name: 'temperature', limit: 'high' },
    { bit: 2, name: 'temperature', limit: 'low' },
    { bit: 3, name: 'humidity', limit: 'high' },
    { bit: 4, name: 'humidity', limit: 'low' },
    { bit: 5, name: 'voc', limit: 'high' },
    { bit: 6, name: 'voc', limit: 'low' },
    { bit: 7, name: 'co2', limit: 'high' },
    { bit: 8, name: 'co2', limit: 'low' },
  ],
  t1: [
    { bit: 1, name: 'temperature_1', limit: 'high' },
    { bit: 2, name: 'temperature_1', limit: 'low' },
  ],
  t2: [
    { bit: 1, name: 'temperature_1', limit: 'high' },
    { bit: 2, name: 'temperature_1', limit: 'low' },
    { bit: 3, name: 'temperature_2', limit: 'high' },
    { bit: 4, name: 'temperature_2', limit: 'low' },
  ],
  pulse: [
    { bit: 1, name: 'pulse_ch1_flow', limit: 'high' },
    { bit: 2, name: 'pulse_ch2_flow', limit: 'high' },
    { bit: 3, name: 'pulse_oc_flow', limit: 'high' },
    { bit: 5, name: 'pulse_ch1_flow', limit: 'low' },
    { bit: 6, name: 'pulse_ch2_flow', limit: 'low' },
    { bit: 7, name: 'pulse_oc_flow', limit: 'low' },
    { bit: 9, name: 'pulse_ch1_leak', limit: 'leak' },
    { bit: 10, name: 'pulse_ch2_leak', limit: 'leak' },
    { bit: 11, name: 'pulse_oc_leak', limit: 'leak' },
  ],
  analog: [
    { bit: 1, name: 'current', limit: 'high' },
    { bit: 2, name: 'current', limit: 'low' },
    { bit: 3, name: 'loop', limit: 'open' },
  ],
};

var MESSAGE_TYPES = ['periodic', 'alarm', 'button', 'startup'];
var BATTERY_LEVELS = ['empty', 'critical', 'low', 'medium', 'good', 'full', 'external', 'unknown'];

/*
 * Register table. Each entry: id, name, width in bytes, signed or not, scale, unit, minimum and
 * maximum of the engineering value, and whether the register may be written by a downlink.
 */
var REGISTERS = [
  { id: 0x01, name: 'report_interval', width: 2, signed: false, scale: 1, unit: 's', min: 60, max: 86400, writable: true },
  { id: 0x02, name: 'alarm_interval', width: 2, signed: false, scale: 1, unit: 's', min: 60, max: 3600, writable: true },
  { id: 0x03, name: 'confirmed_uplinks', width: 1, signed: false, scale: 1, unit: '', min: 0, max: 1, writable: true },
  { id: 0x04, name: 'adr', width: 1, signed: false, scale: 1, unit: '', min: 0, max: 1, writable: true },
  { id: 0x05, name: 'data_rate', width: 1, signed: false, scale: 1, unit: '', min: 0, max: 5, writable: true },
  { id: 0x06, name: 'tx_power', width: 1, signed: false, scale: 1, unit: 'dBm', min: 2, max: 14, writable: true },
  { id: 0x07, name: 'led', width: 1, signed: false, scale: 1, unit: '', min: 0, max: 2, writable: true },
  { id: 0x08, name: 'buzzer', width: 1, signed: false, scale: 1, unit: '', min: 0, max: 1, writable: true },
  { id: 0x10, name: 'temperature_high', width: 2, signed: true, scale: 10, unit: '°C', min: -40, max: 85, writable: true },
  { id: 0x11, name: 'temperature_low', width: 2, signed: true, scale: 10, unit: '°C', min: -40, max: 85, writable: true },
  { id: 0x12, name: 'temperature_hysteresis', width: 1, signed: false, scale: 10, unit: '°C', min: 0, max: 10, writable: true },
  { id: 0x13, name: 'humidity_high', width: 1, signed: false, scale: 1, unit: '%', min: 0, max: 100, writable: true },
  { id: 0x14, name: 'humidity_low', width: 1, signed: false, scale: 1, unit: '%', min: 0, max: 100, writable: true },
  { id: 0x15, name: 'humidity_hysteresis', width: 1, signed: false, scale: 1, unit: '%', min: 0, max: 20, writable: true },
  { id: 0x16, name: 'voc_high', width: 2, signed: false, scale: 1, unit: 'ppb', min: 0, max: 60000, writable: true },
  { id: 0x17, name: 'voc_low', width: 2, signed: false, scale: 1, unit: 'ppb', min: 0, max: 60000, writable: true },
  { id: 0x18, name: 'co2_high', width: 2, signed: false, scale: 1, unit: 'ppm', min: 400, max: 10000, writable: true },
  { id: 0x19, name: 'co2_low', width: 2, signed: false, scale: 1, unit: 'ppm', min: 400, max: 10000, writable: true },
  { id: 0x1a, name: 'co2_calibration', width: 2, signed: false, scale: 1, unit: 'ppm', min: 400, max: 2000, writable: true },
  { id: 0x20, name: 'pulse_ch1_factor', width: 2, signed: false, scale: 1000, unit: '', min: 0, max: 65, writable: true },
  { id: 0x21, name: 'pulse_ch2_factor', width: 2, signed: false, scale: 1000, unit: '', min: 0, max: 65, writable: true },
  { id: 0x22, name: 'pulse_oc_factor', width: 2, signed: false, scale: 1000, unit: '', min: 0, max: 65, writable: true },
  { id: 0x23, name: 'pulse_debounce', width: 1, signed: false, scale: 1, unit: 'ms', min: 1, max: 255, writable: true },
  { id: 0x24, name: 'flow_high', width: 2, signed: false, scale: 1, unit: 'pulses/h', min: 0, max: 65535, writable: true },
  { id: 0x25, name: 'flow_low', width: 2, signed: false, scale: 1, unit: 'pulses/h', min: 0, max: 65535, writable: true },
  { id: 0x26, name: 'leak_window', width: 1, signed: false, scale: 1, unit: 'h', min: 1, max: 72, writable: true },
  { id: 0x30, name: 'current_high', width: 2, signed: false, scale: 1000, unit: 'mA', min: 4, max: 20, writable: true },
  { id: 0x31, name: 'current_low', width: 2, signed: false, scale: 1000, unit: 'mA', min: 4, max: 20, writable: true },
  { id: 0x32, name: 'loop_warmup', width: 2, signed: false, scale: 1, unit: 'ms', min: 0, max: 10000, writable: true },
  { id: 0x40, name: 'battery_voltage', width: 2, signed: false, scale: 1000, unit: 'V', min: 0, max: 4, writable: false },
  { id: 0x41, name: 'uptime', width: 4, signed: false, scale: 1, unit: 's', min: 0, max: 4294967295, writable: false },
  { id: 0x42, name: 'reset_count', width: 2, signed: false, scale: 1, unit: '', min: 0, max: 65535, writable: false },
  { id: 0x43, name: 'last_reset_cause', width: 1, signed: false, scale: 1, unit: '', min: 0, max: 7, writable: false },
  { id: 0x44, name: 'internal_temperature', width: 2, signed: true, scale: 100, unit: '°C', min: -40, max: 85, writable: false },
];

var RESET_CAUSES = ['power_on', 'watchdog', 'software', 'brown_out', 'pin', 'lockup', 'downlink', 'unknown'];
var EVENT_CODES = {
  0x01: 'button_pressed',
  0x02: 'tamper_opened',
  0x03: 'tamper_closed',
  0x04: 'probe_disconnected',
  0x05: 'probe_connected',
  0x06: 'battery_replaced',
  0x07: 'configuration_changed',
  0x08: 'calibration_done',
};

/* ---- low-level helpers (hex-string based, as many vendor codecs are) ---------------------- */

function toHexString(bytes) {
  var out = '';
  for (var i = 0; i < bytes.length; i++) {
    out += ('0' + (bytes[i] & 0xff).toString(16)).slice(-2);
  }
  return out;
}

function hexToUInt(hex, divisor) {
  var value = parseInt(hex, 16);
  if (isNaN(value)) throw new Error('frame too short');
  return divisor ? value / divisor : value;
}

function hexToInt(hex, divisor) {
  var value = hexToUInt(hex);
  var bits = hex.length * 4;
  if (value >= Math.pow(2, bits - 1)) value -= Math.pow(2, bits);
  return divisor ? value / divisor : value;
}

function hexToFirmware(hex) {
  var v = hexToUInt(hex);
  return (v >> 4) + '.' + (v & 0x0f);
}

function hexToStatus(hex, layout) {
  var word = hexToUInt(hex);
  var status = {};
  for (var i = 0; i < layout.length; i++) {
    var entry = layout[i];
    var active = ((word >> (entry.bit - 1)) & 1) === 1;
    if (!status[entry.name]) status[entry.name] = {};
    status[entry.name][entry.limit] = active;
  }
  return status;
}

function hexToBatteryLevel(hex) {
  return BATTERY_LEVELS[(hexToUInt(hex) >> 2) & 0x07];
}

function hexToMessageType(hex) {
  return MESSAGE_TYPES[hexToUInt(hex) & 0x03];
}

function hexToFault(hex) {
  return (hexToUInt(hex) & 0x8000) !== 0;
}

function round(value, digits) {
  var f = Math.pow(10, digits);
  return Math.round(value * f) / f;
}

/* ---- report builders (called as plain functions; they reach their helpers through `this`) -- */

function addValues(frame, values) {
  frame.values = values;
}

function addAlarms(frame, alarms) {
  frame.alarm_status = alarms;
}

function addState(frame, state) {
  frame.state = state;
}

function alarmParser(hex, product) {
  var layout = ALARM_LAYOUTS[PRODUCTS[product].alarms];
  return hexToStatus(hex, layout);
}

function stateParser(hex) {
  return {
    battery: hexToBatteryLevel(hex),
    message_type: hexToMessageType(hex),
    fault: hexToFault(hex),
  };
}

function reading(unit, value) {
  return { unit: unit, value: value };
}

function decodeReport(product, payload) {
  var frame = {
    serial: hexToUInt(payload.substring(0, 6)),
    product: PRODUCTS[product].name,
    sequence: hexToUInt(payload.substring(8, 10)),
    firmware: hexToFirmware(payload.substring(10, 12)),
  };
  var at;
  switch (product) {
    case PRODUCT_TH_AMBIENT:
    case PRODUCT_TH_PROBE:
      this.addValues(frame, {
        temperature: reading('°C', hexToInt(payload.substring(12, 16), 10)),
        humidity: reading('%', hexToUInt(payload.substring(16, 20), 10)),
      });
      at = 20;
      break;
    case PRODUCT_TH_VOC:
      this.addValues(frame, {
        temperature: reading('°C', hexToInt(payload.substring(12, 16), 10)),
        humidity: reading('%', hexToUInt(payload.substring(16, 20), 10)),
        voc: reading('ppb', hexToUInt(payload.substring(20, 24))),
      });
      at = 24;
      break;
    case PRODUCT_TH_VOC_CO2:
      this.addValues(frame, {
        temperature: reading('°C', hexToInt(payload.substring(12, 16), 10)),
        humidity: reading('%', hexToUInt(payload.substring(16, 20), 10)),
        voc: reading('ppb', hexToUInt(payload.substring(20, 24))),
        co2: reading('ppm', hexToUInt(payload.substring(24, 28))),
      });
      at = 28;
      break;
    case PRODUCT_TEMP_INTERNAL:
    case PRODUCT_PT1000_1CH:
      this.addValues(frame, {
        temperature_1: reading('°C', hexToInt(payload.substring(12, 16), 10)),
      });
      at = 16;
      break;
    case PRODUCT_PT1000_2CH:
      this.addValues(frame, {
        temperature_1: reading('°C', hexToInt(payload.substring(12, 16), 10)),
        temperature_2: reading('°C', hexToInt(payload.substring(16, 20), 10)),
      });
      at = 20;
      break;
    case PRODUCT_ANALOG_4_20:
      this.addValues(frame, {
        current: reading('mA', hexToUInt(payload.substring(12, 16), 1000)),
      });
      at = 16;
      break;
    case PRODUCT_PULSE:
    case PRODUCT_PULSE_ATEX:
    case PRODUCT_PULSE_LED:
    case PRODUCT_CONTACT:
      this.addValues(frame, {
        pulse_ch1: reading('', hexToUInt(payload.substring(12, 20))),
        pulse_ch2: reading('', hexToUInt(payload.substring(20, 28))),
        pulse_oc: reading('', hexToUInt(payload.substring(28, 36))),
      });
      at = 36;
      break;
    default:
      throw new Error('unknown product type 0x' + ('0' + product.toString(16)).slice(-2));
  }
  this.addAlarms(frame, this.alarmParser(payload.substring(at, at + 4), product));
  this.addState(frame, this.stateParser(payload.substring(at + 4, at + 8)));
  return frame;
}

/* ---- register read-back and event log ------------------------------------------------------ */

function findRegister(id) {
  for (var i = 0; i < REGISTERS.length; i++) {
    if (REGISTERS[i].id === id) return REGISTERS[i];
  }
  return null;
}

function findRegisterByName(name) {
  for (var i = 0; i < REGISTERS.length; i++) {
    if (REGISTERS[i].name === name) return REGISTERS[i];
  }
  return null;
}

function readRegisterValue(bytes, i, register) {
  var raw = 0;
  for (var k = 0; k < register.width; k++) raw = raw * 256 + bytes[i + k];
  if (register.signed && raw >= Math.pow(2, 8 * register.width - 1)) raw -= Math.pow(2, 8 * register.width);
  return register.scale === 1 ? raw : round(raw / register.scale, 3);
}

function decodeRegisters(bytes, warnings) {
  var registers = {};
  var i = 0;
  while (i < bytes.length) {
    var register = findRegister(bytes[i]);
    if (!register) throw new Error('unknown register 0x' + ('0' + bytes[i].toString(16)).slice(-2) + ' at byte ' + i);
    if (i + 1 + register.width > bytes.length) throw new Error('truncated register ' + register.name);
    var value = readRegisterValue(bytes, i + 1, register);
    if (register.name === 'last_reset_cause') value = RESET_CAUSES[value];
    else if (value < register.min || value > register.max) warnings.push(register.name + ' out of range: ' + value);
    registers[register.name] = value;
    i += 1 + register.width;
  }
  return registers;
}

function decodeEvents(bytes) {
  if (bytes.length % 7 !== 0) throw new Error('event log length must be a multiple of 7, got ' + bytes.length);
  var events = [];
  for (var i = 0; i < bytes.length; i += 7) {
    var time = ((bytes[i] << 24) >>> 0) + (bytes[i + 1] << 16) + (bytes[i + 2] << 8) + bytes[i + 3];
    var code = bytes[i + 4];
    events.push({
      time: new Date(time * 1000).toISOString(),
      event: EVENT_CODES[code] || 'event_' + code,
      argument: (bytes[i + 5] << 8) | bytes[i + 6],
    });
  }
  return events;
}

/* ---- TTS codec API --------------------------------------------------------------------------- */

function decodeUplink(input) {
  var warnings = [];
  switch (input.fPort) {
    case 1:
    case 2: {
      if (input.bytes.length < 6) return { errors: ['frame too short: ' + input.bytes.length + ' bytes'] };
      var payload = toHexString(input.bytes);
      var product = hexToUInt(payload.substring(6, 8));
      if (!PRODUCTS[product]) return { errors: ['unknown product type ' + product] };
      var frame = decodeReport(product, payload);
      if (frame.state.fault) warnings.push('device reports a sensor fault');
      if (frame.state.battery === 'critical' || frame.state.battery === 'empty') warnings.push('battery ' + frame.state.battery);
      return { data: frame, warnings: warnings };
    }
    case 3:
      return { data: { registers: decodeRegisters(input.bytes, warnings) }, warnings: warnings };
    case 4:
      return { data: { events: decodeEvents(input.bytes) } };
    default:
      return { errors: ['unknown fPort ' + input.fPort] };
  }
}

function writeRegisterValue(bytes, register, value) {
  var raw = Math.round(value * register.scale);
  if (raw < 0) raw += Math.pow(2, 8 * register.width);
  for (var k = register.width - 1; k >= 0; k--) {
    bytes.push(Math.floor(raw / Math.pow(256, k)) & 0xff);
  }
}

function encodeDownlink(input) {
  var data = input.data || {};
  var bytes = [];
  var errors = [];
  if (data.command !== undefined) {
    switch (data.command) {
      case 'reboot':
        return { bytes: [0x01], fPort: 11 };
      case 'send_now':
        var delay = data.delay_s === undefined ? 0 : data.delay_s;
        if (delay < 0 || delay > 65535) return { errors: ['delay_s must be 0..65535'] };
        return { bytes: [0x02, delay >> 8, delay & 0xff], fPort: 11 };
      case 'clear_log':
        return { bytes: [0x03], fPort: 11 };
      default:
        return { errors: ['unknown command ' + data.command] };
    }
  }
  var names = Object.keys(data);
  for (var i = 0; i < names.length; i++) {
    var register = findRegisterByName(names[i]);
    if (!register) {
      errors.push('unknown register ' + names[i]);
      continue;
    }
    if (!register.writable) {
      errors.push(register.name + ' is read-only');
      continue;
    }
    var value = data[names[i]];
    if (typeof value === 'boolean') value = value ? 1 : 0;
    if (typeof value !== 'number' || value < register.min || value > register.max) {
      errors.push(register.name + ' must be ' + register.min + '..' + register.max);
      continue;
    }
    bytes.push(0x80 | register.id);
    writeRegisterValue(bytes, register, value);
  }
  if (errors.length) return { errors: errors };
  if (!bytes.length) return { errors: ['nothing to encode'] };
  return { bytes: bytes, fPort: 10 };
}

function decodeDownlink(input) {
  if (input.fPort === 11) {
    switch (input.bytes[0]) {
      case 0x01:
        return { data: { command: 'reboot' } };
      case 0x02:
        return { data: { command: 'send_now', delay_s: (input.bytes[1] << 8) | input.bytes[2] } };
      case 0x03:
        return { data: { command: 'clear_log' } };
      default:
        return { errors: ['unknown command byte ' + input.bytes[0]] };
    }
  }
  if (input.fPort !== 10) return { errors: ['unknown fPort ' + input.fPort] };
  var data = {};
  var i = 0;
  while (i < input.bytes.length) {
    var register = findRegister(input.bytes[i] & 0x7f);
    if (!register) return { errors: ['unknown register at byte ' + i] };
    data[register.name] = readRegisterValue(input.bytes, i + 1, register);
    i += 1 + register.width;
  }
  return { data: data };
}
