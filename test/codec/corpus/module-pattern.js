// Asset tracker AT-3: the decoder lives in an IIFE "module"; the TTS entry point delegates to it.
var tracker = (function () {
  var EVENTS = ['heartbeat', 'motion_start', 'motion_stop', 'sos'];

  function coordinate(b, i) {
    var v = (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
    return v / 1e6;
  }

  return {
    decode: function (bytes) {
      var out = { event: EVENTS[bytes[0]] || 'unknown' };
      if (bytes.length >= 9) {
        out.latitude = coordinate(bytes, 1);
        out.longitude = coordinate(bytes, 5);
      }
      return out;
    },
  };
})();

function decodeUplink(input) {
  return { data: tracker.decode(input.bytes) };
}
