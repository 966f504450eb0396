// Flow meter FM-8: IEEE-754 floats, once by hand from the bits and once with a DataView.
function bytesToFloat(b0, b1, b2, b3) {
  var bits = (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
  var sign = bits >>> 31 === 0 ? 1.0 : -1.0;
  var e = (bits >>> 23) & 0xff;
  var m = e === 0 ? (bits & 0x7fffff) << 1 : (bits & 0x7fffff) | 0x800000;
  return sign * m * Math.pow(2, e - 150);
}

function decodeUplink(input) {
  var b = input.bytes;
  var view = new DataView(new Uint8Array(b).buffer);
  return {
    data: {
      flow_lpm: Math.round(bytesToFloat(b[0], b[1], b[2], b[3]) * 1000) / 1000,
      total_m3: Math.round(view.getFloat32(4, false) * 1000) / 1000,
      view: view,
    },
  };
}
