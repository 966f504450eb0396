// Data logger DL-4: every record carries a unix timestamp; the codec returns Date objects.
// A Date is exported as its ISO-8601 text; an invalid Date as null.
function toDate(b, i) {
  return new Date(((b[i] << 24) >>> 0) * 1000 + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) * 1000);
}

function decodeUplink(input) {
  var records = [];
  for (var i = 0; i + 6 <= input.bytes.length; i += 6) {
    records.push({ time: toDate(input.bytes, i), value: (input.bytes[i + 4] << 8) | input.bytes[i + 5] });
  }
  return {
    data: {
      records: records,
      received: input.recvTime,
      age_s: records.length ? Math.round((input.recvTime.getTime() - records[records.length - 1].time.getTime()) / 1000) : null,
      never: new Date(NaN),
    },
  };
}
