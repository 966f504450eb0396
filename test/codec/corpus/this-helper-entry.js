// Soil probe SP-2: the entry function reaches its helpers through `this` (it is called as a plain
// function, so `this` is the global object and the top-level functions are its properties).
function parseMoisture(raw) {
  return Math.round((raw / 4095) * 1000) / 10;
}

function parseTemperature(raw) {
  return (raw > 0x7fff ? raw - 0x10000 : raw) / 100;
}

function decodeUplink(input) {
  var b = input.bytes;
  if (b.length < 5) return { errors: ['need 5 bytes, got ' + b.length] };
  return {
    data: {
      moisture: this.parseMoisture((b[0] << 8) | b[1]),
      temperature: this.parseTemperature((b[2] << 8) | b[3]),
      battery: b[4] / 10,
    },
  };
}
