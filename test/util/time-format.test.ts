import { strict as assert } from 'node:assert';
import { formatDateTime, formatShortTime } from '../../src/util/time-format';

// Node reads process.env.TZ whenever it changes: each test picks a zone that is neither UTC
// nor this machine's (Kathmandu is UTC+5:45), so a formatter that showed UTC would fail here.
function inZone<T>(zone: string, run: () => T): T {
  const before = process.env.TZ;
  process.env.TZ = zone;
  try {
    return run();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

describe('time format: the viewer’s time zone and locale', () => {
  const instant = Date.UTC(2026, 11, 2, 17, 7, 34);

  it('shows date and time in the local time zone, as toLocaleString does (Node-RED’s debug sidebar, Dashboard 2.0’s date columns)', () => {
    inZone('Asia/Kathmandu', () => {
      const text = formatDateTime(instant);
      assert.equal(text, new Date(instant).toLocaleString());
      assert.match(text, /22:52:34|10:52:34/, text);
      assert.equal(formatDateTime(new Date(instant).toISOString()), text);
      assert.equal(formatDateTime(new Date(instant)), text);
    });
  });

  it('shows nothing for no time or an invalid one', () => {
    for (const value of [undefined, null, '', 'not a time', Number.NaN]) assert.equal(formatDateTime(value), '', String(value));
    assert.equal(formatShortTime(undefined), '');
  });

  it('shortens a time of the viewer’s today to the time of day, and keeps the date of any other day', () => {
    inZone('Asia/Kathmandu', () => {
      // 23:30 local on 2 December and 00:30 local on 3 December are 17:45 and 18:45 UTC on the 2nd.
      const lateEvening = Date.UTC(2026, 11, 2, 17, 45);
      const afterMidnight = Date.UTC(2026, 11, 2, 18, 45);
      assert.equal(formatShortTime(lateEvening, lateEvening + 60_000), new Date(lateEvening).toLocaleTimeString());
      assert.equal(formatShortTime(lateEvening, afterMidnight), new Date(lateEvening).toLocaleString());
      assert.equal(formatShortTime(afterMidnight, afterMidnight), new Date(afterMidnight).toLocaleTimeString());
    });
  });
});
