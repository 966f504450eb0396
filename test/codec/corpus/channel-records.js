// Indoor sensor IS-6 with channel/type records, little-endian values (a common vendor layout).
function readUInt16LE(bytes, i) {
  return (bytes[i + 1] << 8) + bytes[i];
}

function readInt16LE(bytes, i) {
  var v = readUInt16LE(bytes, i);
  return v > 0x7fff ? v - 0x10000 : v;
}

function decodeUplink(input) {
  var bytes = input.bytes;
  var data = {};
  for (var i = 0; i < bytes.length; ) {
    var channel = bytes[i++];
    var type = bytes[i++];
    if (channel === 0x01 && type === 0x75) {
      data.battery = bytes[i];
      i += 1;
    } else if (channel === 0x03 && type === 0x67) {
      data.temperature = readInt16LE(bytes, i) / 10;
      i += 2;
    } else if (channel === 0x04 && type === 0x68) {
      data.humidity = bytes[i] / 2;
      i += 1;
    } else if (channel === 0x05 && type === 0x6a) {
      data.activity = readUInt16LE(bytes, i);
      i += 2;
    } else if (channel === 0x06 && type === 0x65) {
      data.illumination = readUInt16LE(bytes, i);
      data.infrared = readUInt16LE(bytes, i + 2);
      i += 4;
    } else {
      return { errors: ['unknown channel ' + channel + ' type ' + type] };
    }
  }
  return { data: data };
}
