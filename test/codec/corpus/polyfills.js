// Vibration sensor VB-2 ships polyfills for old runtimes and leans on Object.assign / padStart.
if (!String.prototype.padStart) {
  String.prototype.padStart = function (length, fill) {
    var s = String(this);
    while (s.length < length) s = fill + s;
    return s;
  };
}
if (!Array.prototype.includes) {
  Array.prototype.includes = function (v) {
    return this.indexOf(v) !== -1;
  };
}

var DEFAULTS = { axis: 'z', unit: 'mm/s' };

function decodeUplink(input) {
  var b = input.bytes;
  var out = Object.assign({}, DEFAULTS, { rms: ((b[0] << 8) | b[1]) / 100, peak: ((b[2] << 8) | b[3]) / 100 });
  out.status_bits = b[4].toString(2).padStart(8, '0');
  out.alarm = [1, 2, 3].includes(b[4] & 0x03);
  return { data: out };
}
