// Valve controller VC-3: configuration downlinks on fPort 20, commands on fPort 21, and the
// matching downlink decoder.
var MODES = { auto: 0, open: 1, closed: 2 };
var MODE_NAMES = ['auto', 'open', 'closed'];

function encodeDownlink(input) {
  var d = input.data;
  if (d.command === 'flush') return { bytes: [0xf0, d.seconds || 10], fPort: 21 };
  if (!(d.mode in MODES)) return { errors: ['mode must be auto, open or closed'] };
  var interval = d.interval_s === undefined ? 600 : d.interval_s;
  if (interval < 60 || interval > 65535) return { errors: ['interval_s must be 60..65535'] };
  var warnings = interval < 300 ? ['short intervals drain the battery'] : [];
  return { bytes: [MODES[d.mode], interval >> 8, interval & 0xff], fPort: 20, warnings: warnings };
}

function decodeDownlink(input) {
  if (input.fPort === 21) return { data: { command: 'flush', seconds: input.bytes[1] } };
  return { data: { mode: MODE_NAMES[input.bytes[0]], interval_s: (input.bytes[1] << 8) | input.bytes[2] } };
}

function decodeUplink(input) {
  return { data: { mode: MODE_NAMES[input.bytes[0]], open_pct: input.bytes[1] } };
}
