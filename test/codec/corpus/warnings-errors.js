// Gas detector GD-2: range warnings, and errors for frames it cannot read (TTS fails the decode).
function decodeUplink(input) {
  var warnings = [];
  if (input.bytes.length !== 4) return { errors: ['frame must be 4 bytes', 'got ' + input.bytes.length] };
  var ppm = (input.bytes[0] << 8) | input.bytes[1];
  var lel = input.bytes[2];
  if (ppm > 5000) warnings.push('CO above sensor range');
  if (lel > 100) warnings.push('LEL reading ' + lel + '% is impossible');
  return { data: { co_ppm: ppm, lel_pct: Math.min(lel, 100), alarm: input.bytes[3] === 1 }, warnings: warnings };
}
