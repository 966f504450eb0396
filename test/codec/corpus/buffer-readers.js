// Weather station WS-5 (Node-flavoured codec): reads the frame with Buffer methods.
function decodeUplink(input) {
  var buf = Buffer.from(input.bytes);
  if (buf.length !== 13) return { errors: ['expected 13 bytes, got ' + buf.length] };
  return {
    data: {
      temperature: buf.readInt16BE(0) / 10,
      humidity: buf.readUInt8(2) / 2,
      pressure: buf.readUInt32LE(3) / 100,
      wind_speed: Math.round(buf.readFloatBE(7) * 100) / 100,
      wind_direction: buf.readUInt16LE(11),
      raw: buf.toString('hex'),
      raw_base64: buf.toString('base64'),
    },
  };
}
