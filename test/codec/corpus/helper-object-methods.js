// Power meter PM-3: readings are returned as small objects that keep the helpers used to read
// them. In TTS the function-valued properties are exported as null; the readings stay.
function reader(bytes) {
  return {
    bytes: bytes,
    readInt8: function (i) {
      var v = this.bytes[i];
      return v > 127 ? v - 256 : v;
    },
    readUInt16: function (i) {
      return (this.bytes[i] << 8) | this.bytes[i + 1];
    },
  };
}

function decodeUplink(input) {
  var r = reader(input.bytes);
  var status = r.readInt8(0);
  return {
    data: {
      voltage: r.readUInt16(1) / 10,
      current: r.readUInt16(3) / 1000,
      status: { code: status, ok: status >= 0, readInt8: r.readInt8 },
      parse: reader,
      kind: Symbol('power'),
    },
  };
}
