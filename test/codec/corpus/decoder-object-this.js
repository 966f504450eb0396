// Multi-sensor MS-D in the style of codecs that keep their parameter tables in an object whose
// methods use `this`, plus a top-level entry that calls a plain helper using the global `this`.
var codec = {
  PARAMETERS: [
    { name: 'temperature', bytes: 2, scale: 0.01, signed: true },
    { name: 'pressure', bytes: 2, scale: 0.1, signed: false },
    { name: 'battery', bytes: 1, scale: 0.02, signed: false },
  ],
  read: function (bytes, pos, p) {
    var v = 0;
    for (var i = 0; i < p.bytes; i++) v = v * 256 + bytes[pos + i];
    if (p.signed && v >= Math.pow(2, 8 * p.bytes - 1)) v -= Math.pow(2, 8 * p.bytes);
    return Math.round(v * p.scale * 1000) / 1000;
  },
  decode: function (bytes) {
    var out = {};
    var pos = 0;
    for (var i = 0; i < this.PARAMETERS.length; i++) {
      var p = this.PARAMETERS[i];
      out[p.name] = this.read(bytes, pos, p);
      pos += p.bytes;
    }
    return out;
  },
};

function wrap(bytes) {
  return this.codec.decode(bytes);
}

function decodeUplink(input) {
  return { data: wrap(input.bytes) };
}
