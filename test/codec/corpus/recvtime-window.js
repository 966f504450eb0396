// Rain gauge RG-1 reports tips since the last uplink; the codec stamps the reading window from
// input.recvTime (a Date) and the interval byte.
function decodeUplink(input) {
  var tips = (input.bytes[0] << 8) | input.bytes[1];
  var minutes = input.bytes[2];
  var end = input.recvTime;
  var start = new Date(end.getTime() - minutes * 60000);
  return { data: { rain_mm: tips * 0.2, window_start: start.toISOString(), window_end: end, is_date: end instanceof Date } };
}
