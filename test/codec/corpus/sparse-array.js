// Multi-probe thermometer MP-4: temperatures stored by probe number; probes that did not answer
// leave holes in the array (exported as null).
function decodeUplink(input) {
  var temps = [];
  for (var i = 0; i < input.bytes.length; i += 3) {
    var probe = input.bytes[i];
    var raw = (input.bytes[i + 1] << 8) | input.bytes[i + 2];
    temps[probe] = (raw > 0x7fff ? raw - 0x10000 : raw) / 10;
  }
  return { data: { probes: temps, count: temps.length } };
}
