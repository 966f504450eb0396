// Smart plug SP-10: readings built by a constructor function. Only own enumerable properties are
// exported: prototype methods and getters are not, own getters run, own methods become null.
function Reading(watts, volts) {
  this.watts = watts;
  this.volts = volts;
  this.describe = function () {
    return this.watts + ' W';
  };
  Object.defineProperty(this, 'amps', {
    enumerable: true,
    get: function () {
      return Math.round((this.watts / this.volts) * 1000) / 1000;
    },
  });
  Object.defineProperty(this, 'secret', { enumerable: false, value: 42 });
}
Reading.prototype.unit = 'W';
Reading.prototype.double = function () {
  return this.watts * 2;
};

function decodeUplink(input) {
  var b = input.bytes;
  var r = new Reading((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
  var tagged = {};
  tagged[Symbol('hidden')] = 1;
  tagged.relay = b[4] === 1;
  return { data: { reading: r, tagged: tagged, doubled: r.double(), unit: r.unit } };
}
