// Door contact DC-7, TTN v2 payload functions (Decoder / Encoder), sloppy style with implicit
// globals, as many older codecs are.
function Decoder(bytes, port) {
  decoded = {};
  if (port === 1) {
    decoded.open = (bytes[0] & 0x01) === 1;
    decoded.tamper = (bytes[0] & 0x02) === 2;
    decoded.count = (bytes[1] << 8) | bytes[2];
  } else if (port === 2) {
    decoded.battery = bytes[0] / 50;
  }
  return decoded;
}

function Encoder(object, port) {
  bytes = [];
  bytes[0] = object.led ? 1 : 0;
  bytes[1] = object.hold_s || 0;
  return bytes;
}
