// Level sensor LV-1 with a careless decoder: a short frame reads undefined bytes and produces NaN,
// which TTS refuses (the whole decode fails).
function decodeUplink(input) {
  var distance = (input.bytes[0] << 8) | input.bytes[1];
  var ratio = input.bytes[2] / input.bytes[3];
  return { data: { distance_mm: distance, ratio: ratio } };
}
