// Tank level sensor TL-9: message decoders registered in a table on globalThis at the top level,
// looked up by message type.
globalThis.handlers = {};

function register(type, fn) {
  globalThis.handlers[type] = fn;
}

register(0x01, function (b) {
  return { level_mm: (b[1] << 8) | b[2], tilt: b[3] > 127 ? b[3] - 256 : b[3] };
});
register(0x02, function (b) {
  return { alarm: b[1] === 1 ? 'overflow' : b[1] === 2 ? 'empty' : 'none' };
});
register(0x03, function (b) {
  return { interval_min: b[1], firmware: b[2] + '.' + b[3] };
});

function decodeUplink(input) {
  var handler = globalThis.handlers[input.bytes[0]];
  if (!handler) return { errors: ['unknown message type ' + input.bytes[0]] };
  return { data: handler(input.bytes) };
}
