// Counter CT-1: keeps its running total in a top-level var and updates it through `this`, as
// some codecs do. TTS starts every message with a fresh script, so the total never carries over.
var total = 100;
var unit = 'pulses';

function add(n) {
  this.total = this.total + n;
  return total;
}

function decodeUplink(input) {
  var after = add((input.bytes[0] << 8) | input.bytes[1]);
  return { data: { total: after, via_this: this.total, unit: this.unit } };
}
