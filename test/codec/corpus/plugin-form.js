// Parking sensor PK-2 in the hosted plugin's form: uplink(payload, message) gets base64 text (or
// what TTS already decoded), downlink(payload, device) returns base64 text.
module.exports.uplink = function (payload, message) {
  if (typeof payload === 'object') return { occupied: !!payload.occupied, source: 'tts' };
  const bytes = Buffer.from(payload, 'base64');
  return { occupied: bytes[0] === 1, magnetometer: bytes.readInt16BE(1), source: 'script' };
};

module.exports.downlink = function (payload, device) {
  return Buffer.from([payload.calibrate ? 1 : 0, payload.sensitivity & 0xff]).toString('base64');
};
