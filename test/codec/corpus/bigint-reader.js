// Energy meter EM-64 with a 64-bit counter: read as a BigInt and returned as decimal text (a
// BigInt itself cannot be exported; returning one fails the decode).
function decodeUplink(input) {
  var buf = Buffer.from(input.bytes);
  var counter = buf.readBigUInt64BE(0);
  if (input.fPort === 9) return { data: { raw: counter } };
  return { data: { energy_wh: counter.toString(), kwh: Number(counter / 1000n) } };
}
