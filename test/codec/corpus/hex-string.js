// Water meter WM-2: converts the frame to a hex string first and slices it (another common style).
function toHex(bytes) {
  return Array.prototype.map.call(bytes, function (b) {
    return ('0' + (b & 0xff).toString(16)).slice(-2);
  }).join('');
}

function decodeUplink(input) {
  var hex = toHex(input.bytes);
  var meter = hex.substr(0, 8).toUpperCase();
  var litres = parseInt(hex.substr(8, 8), 16);
  var flags = parseInt(hex.substr(16, 2), 16);
  return {
    data: {
      meter_id: meter,
      volume_m3: litres / 1000,
      leak: !!(flags & 0x01),
      burst: !!(flags & 0x02),
      reverse_flow: !!(flags & 0x04),
    },
  };
}
