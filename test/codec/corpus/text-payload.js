// GNSS logger GL-1 sends ASCII text ("lat,lon,sats"); decoded with String.fromCharCode.
function decodeUplink(input) {
  var text = String.fromCharCode.apply(null, input.bytes);
  var parts = text.split(',');
  if (parts.length !== 3) return { errors: ['expected "lat,lon,sats", got "' + text + '"'] };
  return { data: { latitude: parseFloat(parts[0]), longitude: parseFloat(parts[1]), satellites: parseInt(parts[2], 10), text: text } };
}
