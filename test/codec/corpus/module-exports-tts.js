// Occupancy sensor OC-1, written as a CommonJS module that exports the TTS codec API functions.
const STATES = ['vacant', 'occupied', 'unknown'];

function decodeUplink({ bytes, fPort }) {
  if (fPort !== 2) return { errors: [`unexpected fPort ${fPort}`] };
  const [state, count, battery] = bytes;
  return { data: { state: STATES[state] ?? 'invalid', count, battery_pct: battery } };
}

function encodeDownlink({ data }) {
  const minutes = data.report_minutes;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 255) return { errors: ['report_minutes must be 1..255'] };
  return { bytes: [0x10, minutes], fPort: 3 };
}

module.exports = { decodeUplink, encodeDownlink };
